"""The officers' requests page, inside Airflow: ``/ccpa/requests/`` on the API server, linked from Airflow's nav.

Server-rendered HTML (Jinja2, autoescaped), no JavaScript. Every route depends on Airflow's own security
dependency: only a user whom Airflow's auth manager lets read runs of ``ccpa_right_of_access`` sees anything (no
token: 401; a token without that permission: 403). Name and email are shown here and nowhere else.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from include import config
from include.store import ComplianceStore, UnknownRequest, utcnow
from include.web.queue import (
    AMBER_DAYS,
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    QueueFilter,
    queue_page,
    timeline,
    verification_words,
)

DAG_ID = "ccpa_right_of_access"
TEMPLATES = Path(__file__).resolve().parent / "templates"

_FILTER_LABELS = {
    QueueFilter.ALL: "All open",
    QueueFilter.AWAITING: "Awaiting decision",
    QueueFilter.EXTENDED: "Extended",
    QueueFilter.OVERDUE: "Overdue",
    QueueFilter.FAILED: "Failed",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda value, fmt="%Y-%m-%d %H:%M %Z": "" if value is None else value.strftime(fmt)
    return env


def read_dag_runs() -> Callable[..., None]:
    """Airflow's own dependency: the API server's auth manager must let the user GET this DAG's runs."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID)


def run_path(run_id: str) -> str:
    """The run's page in Airflow's UI (same server, so relative)."""
    return f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"


def queue_href(show: QueueFilter, q: str, sort: str, page: int = 1, per: int = PAGE_SIZE) -> str:
    """A link to the queue that keeps the filter, search, order and page size (plain links: no JavaScript)."""
    params: dict[str, str | int] = {"show": show.value}
    if q:
        params["q"] = q
    params["sort"] = sort
    if per != PAGE_SIZE:
        params["per"] = per
    if page > 1:
        params["page"] = page
    return "?" + urlencode(params)


def create_app(
    store_factory: Callable[[], ComplianceStore] = ComplianceStore.from_connection,
    zone_factory: Callable[[], tzinfo] = config.business_timezone,
    now: Callable[[], datetime] = utcnow,
    access: Callable[..., None] | None = None,
) -> FastAPI:
    """The pages as a FastAPI app; the plugin mounts it (with the Slack callback) under ``/ccpa``."""
    env = _environment()
    app = FastAPI(title="CCPA requests", docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter(prefix="/requests", dependencies=[Depends(access or read_dag_runs())])

    def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        # Links are built from the mount point (/ccpa on the API server), not request.url_for: inside Airflow's app the
        # router in scope is Airflow's, which does not know these routes' names.
        base = request.scope.get("root_path", "").rstrip("/") + "/requests"
        html = env.get_template(template).render(request=request, base=base, run_path=run_path, **values)
        return HTMLResponse(
            html,
            status_code=status_code,
            headers={
                "Cache-Control": "no-store",
                "Referrer-Policy": "same-origin",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        if exc.status_code not in (401, 403):
            return HTMLResponse(f"{exc.status_code}", status_code=exc.status_code)
        login = _login_url(str(request.url))
        return page(request, "refused.html.j2", status_code=exc.status_code, code=exc.status_code, login=login)

    @router.get("/", response_class=HTMLResponse, name="queue")
    def queue(
        request: Request,
        show: Annotated[QueueFilter, Query()] = QueueFilter.ALL,
        q: Annotated[str, Query(max_length=64)] = "",
        sort: Annotated[str, Query(pattern="^(due|-due)$")] = "due",
        page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
        per: Annotated[int, Query(ge=10, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    ) -> HTMLResponse:
        shown = queue_page(
            store_factory(), show=show, search=q, descending=sort == "-due", page=page_number, per_page=per, now=now()
        )
        return page(
            request,
            "queue.html.j2",
            rows=shown.rows,
            shown=shown,
            href=lambda **changed: queue_href(**{"show": show, "q": q, "sort": sort, "per": per, **changed}),
            show=show,
            q=q,
            sort=sort,
            per=per,
            default_per=PAGE_SIZE,
            filters=_FILTER_LABELS,
            amber_days=AMBER_DAYS,
            zone=zone_factory(),
        )

    @router.get("/r/{request_id}", response_class=HTMLResponse, name="request_page")
    def request_page(request: Request, request_id: str) -> HTMLResponse:
        store = store_factory()
        try:
            record = store.get_request(request_id)
        except UnknownRequest:
            raise HTTPException(404) from None
        zone = zone_factory()
        return page(
            request,
            "request.html.j2",
            record=record,
            verification=verification_words(record),
            decision=store.get_decision(request_id),
            approvals=store.approvals(request_id),
            events=timeline(store, request_id, zone),
            zone=zone,
        )

    @router.get("/metrics", response_class=HTMLResponse, name="metrics")
    def metrics_page(request: Request, year: Annotated[int | None, Query(ge=2020, le=2100)] = None) -> HTMLResponse:
        from include.store.metrics import PUBLISHED, yearly_metrics

        year = year or now().year
        metrics = yearly_metrics(store_factory(), year, now=now())
        rows = [(label, getattr(metrics, name)) for name, label in PUBLISHED if name != "year"]
        return page(request, "metrics.html.j2", metrics=metrics, rows=rows, year=year)

    @router.get("/metrics/ccpa-metrics-{year}.{ext}", name="metrics_file")
    def metrics_file(year: int, ext: str) -> Response:
        from include.store.metrics import write_outputs, yearly_metrics

        if ext not in ("csv", "png") or not 2020 <= year <= 2100:
            raise HTTPException(404)
        metrics = yearly_metrics(store_factory(), year, now=now())
        with tempfile.TemporaryDirectory() as tmp:
            csv_path, png_path = write_outputs(metrics, Path(tmp))
            content = (csv_path if ext == "csv" else png_path).read_bytes()
        media = "text/csv; charset=utf-8" if ext == "csv" else "image/png"
        disposition = f'attachment; filename="ccpa-metrics-{year}.{ext}"' if ext == "csv" else "inline"
        return Response(content, media_type=media, headers={"Content-Disposition": disposition})

    app.include_router(router)
    return app


def _login_url(next_url: str) -> str | None:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=next_url)
    except Exception:  # no auth manager (a bare test app): no link
        return None
