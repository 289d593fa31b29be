import time


class ServerTimingMiddleware:
    """Adds `Server-Timing: app;dur=<ms>`: the server-side time of each response, which browsers'
    developer tools show and bench/ scripts read, independent of network and client."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed_ms:.2f}"
        return response
