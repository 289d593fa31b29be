"""Racing the same work in several threads, for tests of claims that must hold once."""

import threading

from django.db import connection


def race(work, times: int = 2) -> list:
    """Run `work()` in `times` threads released at the same moment; return what each returned.
    Each thread has its own database connection and closes it when done."""
    results, start = [], threading.Barrier(times)

    def run():
        start.wait()
        try:
            results.append(work())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
