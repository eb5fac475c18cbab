"""newswatch ingest: poll feeds -> fetch and extract -> enrich and index -> alerts.

Every task is one call into ``pipeline.airflow_tasks``; this file only wires
them. Parsing it reads environment variables and nothing else: settings,
connections and variables are read inside the tasks. Tasks hand each other
ids (run id, item ids, article ids), never page bodies. The run id is passed
as ``newswatch_run``: ``run_id`` is a name Airflow reserves for its own.

Shape: one poll task per feed (mapped), one fetch task per batch of pending
items (mapped, in the ``newswatch_fetch`` pool so a burst of batches cannot
flood the sites), then enrich + index and alert evaluation, and ``finish``
closes the run and updates the ``newswatch://articles`` Asset that schedules
the alerts DAG. A feed that stays down fails its own poll task after its
retries; the rest of the run goes on and the run summary names the feed.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

from pipeline import airflow_tasks as at

ARTICLES = Asset(name=at.ARTICLES_ASSET_NAME, uri=at.ARTICLES_ASSET_URI)


@dag(
    dag_id="newswatch_ingest",
    schedule=at.ingest_schedule(),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=at.task_defaults(),
    tags=["newswatch"],
    doc_md=__doc__,
)
def newswatch_ingest() -> None:
    @task
    def start_run() -> str:
        return at.start_run()

    @task
    def feed_names() -> list[str]:
        return at.feed_names()

    @task(map_index_template="{{ task.op_kwargs['feed_name'] }}")
    def poll_feed(feed_name: str, newswatch_run: str) -> list[str]:
        return at.poll_feed(feed_name, newswatch_run)

    # all_done: a feed that stays down must not hold back the others' items.
    @task(trigger_rule="all_done")
    def item_batches(newswatch_run: str) -> list[list[str]]:
        return at.item_batches(newswatch_run)

    @task(pool=at.FETCH_POOL)
    def fetch_extract(item_ids: list[str], newswatch_run: str) -> list[str]:
        return at.fetch_extract(item_ids, newswatch_run)

    @task(trigger_rule="all_done")
    def enrich_index(newswatch_run: str) -> dict[str, int]:
        return at.enrich_index(newswatch_run)

    @task(trigger_rule="all_done")
    def evaluate_alerts(newswatch_run: str) -> dict[str, Any]:
        return at.evaluate_alerts(newswatch_run)

    @task(trigger_rule="all_done", outlets=[ARTICLES])
    def finish(newswatch_run: str, outlet_events: Any = None) -> dict[str, Any]:
        summary = at.finish(newswatch_run)
        outlet_events[ARTICLES].extra = at.asset_extra(summary)
        return summary

    # Fails the Airflow run when a stage (not a feed) failed, so a broken stage shows
    # red; skipped, and so green, otherwise. A feed that is down is reported in the
    # run summary and in its own failed poll task, and does not fail the run.
    @task(trigger_rule="one_failed", retries=0)
    def stage_failed() -> None:
        at.stage_failed()

    newswatch_run = start_run()
    names = feed_names()
    polled = poll_feed.partial(newswatch_run=newswatch_run).expand(feed_name=names)
    batches = item_batches(newswatch_run)
    polled >> batches
    fetched = fetch_extract.partial(newswatch_run=newswatch_run).expand(item_ids=batches)
    indexed = enrich_index(newswatch_run)
    fetched >> indexed
    alerted = evaluate_alerts(newswatch_run)
    indexed >> alerted
    done = finish(newswatch_run)
    alerted >> done
    [newswatch_run, names, batches, fetched, indexed, alerted, done] >> stage_failed()


dag = newswatch_ingest()
