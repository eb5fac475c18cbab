"""newswatch alerts: deliver the alert outbox each time new articles land.

Scheduled on the ``newswatch://articles`` Asset that the ingest DAG updates
at the end of every run, so deliveries follow ingestion without polling. The
outbox makes delivery retry-safe: a delivery that failed last time is tried
again here, and one that succeeded is never sent twice.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

from pipeline import airflow_tasks as at

ARTICLES = Asset(name=at.ARTICLES_ASSET_NAME, uri=at.ARTICLES_ASSET_URI)


@dag(
    dag_id="newswatch_alerts",
    schedule=[ARTICLES],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=at.task_defaults(),
    tags=["newswatch"],
    doc_md=__doc__,
)
def newswatch_alerts() -> None:
    @task
    def deliver(triggering_asset_events: Any = None) -> dict[str, Any]:
        return at.deliver_alerts(at.run_ids_from_events(triggering_asset_events))

    deliver()


dag = newswatch_alerts()
