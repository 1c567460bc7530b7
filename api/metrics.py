"""A small Prometheus exposition: requests by route and status, and their total latency."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from fastapi import Request, Response


class RequestMetrics:
    def __init__(self) -> None:
        self.count: dict[tuple[str, str, int], int] = defaultdict(int)
        self.seconds: dict[tuple[str, str, int], float] = defaultdict(float)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        key = (request.method, path, response.status_code)
        self.count[key] += 1
        self.seconds[key] += time.perf_counter() - started
        return response

    def render(self) -> str:
        lines = [
            "# HELP jointbuy_http_requests_total HTTP requests by method, route and status.",
            "# TYPE jointbuy_http_requests_total counter",
        ]
        for (method, path, status), n in sorted(self.count.items()):
            lines.append(
                f'jointbuy_http_requests_total{{method="{method}",route="{path}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP jointbuy_http_request_seconds_total Time spent answering, by route and status.",
            "# TYPE jointbuy_http_request_seconds_total counter",
        ]
        for (method, path, status), s in sorted(self.seconds.items()):
            labels = f'method="{method}",route="{path}",status="{status}"'
            lines.append(f"jointbuy_http_request_seconds_total{{{labels}}} {s:.6f}")
        return "\n".join(lines) + "\n"
