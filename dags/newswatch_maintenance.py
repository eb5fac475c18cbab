"""newswatch maintenance, daily: retry failed items, feed health, prune pages, index check.

The four tasks are independent: one failing (say, the search engine is down
for the index check) does not stop the others.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from pipeline import airflow_tasks as at


@dag(
    dag_id="newswatch_maintenance",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=at.task_defaults(),
    tags=["newswatch"],
    doc_md=__doc__,
)
def newswatch_maintenance() -> None:
    @task
    def retry_failed_items() -> int:
        return at.retry_failed_items()

    @task
    def feed_health() -> dict[str, Any]:
        return at.feed_health_report()

    @task
    def prune_raw_pages() -> int:
        return at.prune_raw_pages()

    @task
    def check_index() -> dict[str, Any]:
        return at.check_index()

    retry_failed_items()
    feed_health()
    prune_raw_pages()
    check_index()


dag = newswatch_maintenance()
