"""The public status page (to be written)."""

from django.http import Http404


def incident(request, code):
    raise Http404


def maintenance(request, code):
    raise Http404
