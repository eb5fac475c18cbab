"""The cluster stack: docker-compose.yml is valid and says what scripts/cluster.sh runs.

There is no Docker engine in CI, so the compose stack is not started: the
compose tool validates the file (``config`` needs no daemon) and the YAML is
checked for the shape that matters (services, profile, shared settings,
pinned versions). The same stack does run, as local processes, from
``scripts/cluster.sh`` (``tests/test_cluster.py``); the tests at the end compare
the two (services, executor, connection variables, pool), so the compose file
cannot drift from what is tested.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import servers_required

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}


def _load() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _compose_available() -> bool:
    if shutil.which("docker-compose"):
        return True
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        return probe.returncode == 0
    return False


def test_validate_compose_script() -> None:
    """scripts/validate-compose.sh passes (it installs docker-compose where it can)."""
    if not _compose_available() and not shutil.which("apt-get"):
        message = "no docker compose, docker-compose or apt-get on this machine"
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)
    proc = subprocess.run(
        [str(ROOT / "scripts" / "validate-compose.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_services_and_profiles() -> None:
    services = _load()["services"]
    assert set(services) >= AIRFLOW_SERVICES
    assert {"postgres-airflow", "postgres-newswatch", "redis", "es1", "es2", "es3"} <= set(services)
    assert services["kibana"]["profiles"] == ["kibana"]
    for name, svc in services.items():
        if name != "kibana":
            assert "profiles" not in svc, f"{name} must start by default"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-worker"]["deploy"]["replicas"] == 2
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name


def test_airflow_services_share_one_configuration() -> None:
    """One image and one environment for every Airflow component (anchors resolved)."""
    services = _load()["services"]
    envs = [services[name]["environment"] for name in AIRFLOW_SERVICES]
    for env in envs:
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
            "http://airflow-apiserver:8080/"
        )
        assert "AIRFLOW__API_AUTH__JWT_SECRET" in env
        assert env["NEWSWATCH_SEARCH_BACKEND"] == "elasticsearch"
        conn = json.loads(env["AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH"])
        assert conn["extra"]["hosts"] == "http://es1:9200,http://es2:9200,http://es3:9200"
        assert "postgres-newswatch" in env["NEWSWATCH_DATABASE_URL"]
        assert "postgres-airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert len({services[name]["image"] for name in AIRFLOW_SERVICES}) == 1


def test_elasticsearch_is_three_nodes_that_discover_each_other() -> None:
    services = _load()["services"]
    names = ["es1", "es2", "es3"]
    for name in names:
        es = services[name]
        assert es["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
        env = es["environment"]
        assert env["node.name"] == name
        assert env["cluster.name"] == "newswatch-cluster"
        assert env["discovery.seed_hosts"].split(",") == names
        assert env["cluster.initial_master_nodes"].split(",") == names
        assert "discovery.type" not in env
        assert env["xpack.security.enabled"] == "false"
    volumes = [services[n]["volumes"][0].split(":")[0] for n in names]
    assert len(set(volumes)) == 3  # each node its own data


def test_published_ports_are_loopback_only() -> None:
    for name, svc in _load()["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_airflow_version_is_pinned_alike_everywhere() -> None:
    """pyproject's airflow extra, the Dockerfile and compose name the same release."""
    pinned = re.search(
        r'"apache-airflow==([0-9.]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    assert pinned, "pyproject.toml pins apache-airflow in the airflow extra"
    version = pinned.group(1)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG AIRFLOW_VERSION={version}" in dockerfile
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}", dockerfile, re.M)
    assert f"AIRFLOW_VERSION:-{version}" in COMPOSE.read_text(encoding="utf-8")
    assert f"AIRFLOW_VERSION={version}" in (ROOT / "compose.env.example").read_text(
        encoding="utf-8"
    )


# ---------------------------------------------------------------- compose == cluster.sh
# compose service -> the scripts/cluster.sh components that play its part.
SERVICE_MAP = {
    "postgres-airflow": ["postgres"],  # one server, two databases, in cluster.sh
    "postgres-newswatch": ["postgres"],
    "redis": ["redis"],
    "es1": ["es1"],
    "es2": ["es2"],
    "es3": ["es3"],
    "airflow-apiserver": ["apiserver"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dagprocessor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["worker1", "worker2"],  # deploy.replicas: 2
    "airflow-init": [],  # a step of `cluster.sh up`: migrations, pool
}
OPTIONAL_SERVICES = {"kibana"}  # profile "kibana": not part of the tested stack
# Settings whose value legitimately differs (auth: FAB users in compose, the
# loopback cluster lets its local user in; secrets differ per installation).
VALUE_DIFFERS = {
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__FERNET_KEY",
}


def _example_env() -> dict[str, str]:
    out = {}
    for line in (ROOT / "compose.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, with compose.env.example."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if env.get(name):
            return env[name]
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", one, str(value))


def _cluster_sh(*args: str) -> str:
    proc = subprocess.run(
        [str(ROOT / "scripts" / "cluster.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "CLUSTER_DIR": str(ROOT / ".cache" / "cluster-env-probe")},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cluster_env() -> tuple[dict[str, str], dict[str, str]]:
    """(what cluster.sh shares with compose, what only cluster.sh sets)."""
    shared: dict[str, str] = {}
    local: dict[str, str] = {}
    target = shared
    for line in _cluster_sh("env").splitlines():
        if line.startswith("# cluster.sh only"):
            target = local
        elif "=" in line:
            key, value = line.split("=", 1)
            target[key] = value
    return shared, local


def _shape(key: str, value: str) -> object:
    """A value with its addresses taken out: what must agree between the two stacks."""
    if key == "AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH":
        conn = json.loads(value)
        hosts = conn["extra"]["hosts"].split(",")
        return conn["conn_type"], len(hosts), {h.split("://")[0] for h in hosts}
    if key == "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
        return re.sub(r"//[^/]+/", "//HOST/", value)
    return re.sub(r"@[^/]+/", "@HOST/", re.sub(r"redis://[^/]+/", "redis://HOST/", value))


def test_compose_and_cluster_sh_run_the_same_services() -> None:
    services = set(_load()["services"])
    assert services - OPTIONAL_SERVICES == set(SERVICE_MAP)
    components = _cluster_sh("components").split()
    mapped = [c for name in SERVICE_MAP for c in SERVICE_MAP[name]]
    assert sorted(set(mapped)) == sorted(components)
    replicas = _load()["services"]["airflow-worker"]["deploy"]["replicas"]
    assert len(SERVICE_MAP["airflow-worker"]) == replicas


def test_compose_and_cluster_sh_set_the_same_variables_alike() -> None:
    """Same names; same executor, drivers, databases, users, broker, pool and defaults."""
    compose_env = _load()["x-airflow-common"]["environment"]
    shared, local = _cluster_env()
    assert set(compose_env) == set(shared), (
        f"only in compose: {sorted(set(compose_env) - set(shared))}; "
        f"only in cluster.sh: {sorted(set(shared) - set(compose_env))}"
    )
    example = _example_env()
    for key, raw in compose_env.items():
        if key in VALUE_DIFFERS:
            continue
        want = _shape(key, _interpolate(raw, example))
        got = _shape(key, shared[key])
        assert got == want, f"{key}: compose {want!r}, cluster.sh {got!r}"
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # What only cluster.sh sets is about sharing one machine, never about behaviour.
    assert all(
        k.startswith(("AIRFLOW_HOME", "AIRFLOW__", "PYTHONPATH", "NEWSWATCH_")) for k in local
    )


def test_compose_and_cluster_sh_create_the_same_pool() -> None:
    init = "\n".join(_load()["services"]["airflow-init"]["command"])
    assert 'airflow pools set newswatch_fetch "$${NEWSWATCH_FETCH_POOL_SLOTS:-4}"' in init
    script = (ROOT / "scripts" / "cluster.sh").read_text(encoding="utf-8")
    assert 'pools set newswatch_fetch "$POOL_SLOTS"' in script
    assert 'POOL_SLOTS="${NEWSWATCH_FETCH_POOL_SLOTS:-4}"' in script
    from pipeline.airflow_tasks import FETCH_POOL, FETCH_POOL_SLOTS

    assert FETCH_POOL == "newswatch_fetch" and FETCH_POOL_SLOTS == 4


def test_both_stacks_create_the_index_with_three_shards_and_one_replica() -> None:
    """The settings both stacks give turn into the index template's shard layout."""
    from pipeline.config import load_settings
    from pipeline.search.elastic import index_settings

    shared, _ = _cluster_env()
    compose_env = _load()["x-airflow-common"]["environment"]
    for env in (shared, {k: _interpolate(v, _example_env()) for k, v in compose_env.items()}):
        settings = load_settings(
            elasticsearch_shards=env["NEWSWATCH_ELASTICSEARCH_SHARDS"],
            elasticsearch_replicas=env["NEWSWATCH_ELASTICSEARCH_REPLICAS"],
        )
        layout = index_settings(settings.elasticsearch_shards, settings.elasticsearch_replicas)
        assert layout == {"number_of_shards": 3, "number_of_replicas": 1}
    # Unset, one node keeps its old layout: one shard, a replica only where a node allows.
    default = load_settings()
    assert index_settings(default.elasticsearch_shards, default.elasticsearch_replicas) == {
        "number_of_shards": 1,
        "auto_expand_replicas": "0-1",
    }


def test_bad_shard_settings_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import load_settings
    from pipeline.errors import ConfigError

    monkeypatch.setenv("NEWSWATCH_ELASTICSEARCH_SHARDS", "0")
    with pytest.raises(ConfigError, match="NEWSWATCH_ELASTICSEARCH_SHARDS"):
        load_settings()
    monkeypatch.setenv("NEWSWATCH_ELASTICSEARCH_SHARDS", "3")
    monkeypatch.setenv("NEWSWATCH_ELASTICSEARCH_REPLICAS", "one")
    with pytest.raises(ConfigError, match="NEWSWATCH_ELASTICSEARCH_REPLICAS"):
        load_settings()
