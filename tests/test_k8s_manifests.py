"""ops/k8s/ manifests: valid against the Kubernetes schemas (offline), and consistent with the bot.

Checked: every object validates strictly against the JSON schemas kubernetes-validate ships, for the
oldest and newest Kubernetes versions we document; the StatefulSet has one shard per replica (shard
count, key Secrets and replicas agree), a journal volume per pod from volumeClaimTemplates, a preStop
that runs the verified `cancel-all`, a grace period above every cancel bound the settings allow, and
probes on the metrics endpoint the bot serves. The shard wrapper script is run for real with `sh`.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.observability.metrics import METRICS_PATH
from settings import BotSettings

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "ops" / "k8s"
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, document)
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    ]


def the(kind: str) -> dict[str, Any]:
    (found,) = [document for _, document in documents() if document["kind"] == kind]
    return found


def bot_container() -> dict[str, Any]:
    (container,) = the("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container["env"]}


def field_maximum(name: str) -> float:
    (maximum,) = [rule.le for rule in BotSettings.model_fields[name].metadata if hasattr(rule, "le")]
    return maximum


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly_against_the_kubernetes_schemas(version: str) -> None:
    found = documents()
    assert {document["kind"] for _, document in found} == {"StatefulSet", "Service", "ConfigMap", "NetworkPolicy"}
    for name, document in found:
        assert kubernetes_validate.validate(document, version, strict=True), name


def test_the_schema_check_rejects_a_misspelt_field() -> None:
    statefulset = copy.deepcopy(the("StatefulSet"))
    statefulset["spec"]["template"]["spec"]["terminationGracePeriod"] = 600
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSIONS[-1], strict=True)


def test_one_shard_per_replica_with_its_own_key_and_journal_volume() -> None:
    spec = the("StatefulSet")["spec"]
    replicas = spec["replicas"]
    env = env_of(bot_container())
    assert int(env["BOT_SHARD_COUNT"]) == replicas
    assert "BOT_SHARD_INDEX" not in env and "BOT_PRIVATE_KEY" not in env  # set per pod by the wrapper
    (keys,) = [volume for volume in spec["template"]["spec"]["volumes"] if volume["name"] == "keys"]
    paths = [(source["secret"]["name"], source["secret"]["items"][0]["path"]) for source in keys["projected"]["sources"]]
    assert paths == [(f"pmm-key-{index}", f"shard-{index}/private_key") for index in range(replicas)]
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {mount["name"]: mount["mountPath"] for mount in bot_container()["volumeMounts"]}
    assert Path(env["BOT_JOURNAL_PATH"]).parent == Path(mounts[claim["metadata"]["name"]])
    settings = BotSettings(
        series=env["BOT_SERIES"].split(","), shard_count=replicas, shard_index=replicas - 1, mode="paper"
    )
    assert settings.shard_count == replicas  # every shard owns at least one series (else settings refuse)


def test_prestop_runs_the_verified_cancel_all_of_the_shards_key() -> None:
    container = bot_container()
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == container["command"][:2] == ["/bin/sh", "/etc/pmm/with-shard-env"]
    assert command[2:] == ["python", "-m", "bot", "cancel-all", "--all"]
    assert container["command"][2:] == ["python", "-m", "bot", "run"]


def test_the_grace_period_exceeds_prestop_and_the_exit_cancel_all_at_their_maxima() -> None:
    grace_s = the("StatefulSet")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    call_s, cancel_s = field_maximum("request_timeout_s"), field_maximum("cancel_all_timeout_s")
    prestop_s = 2 * call_s + cancel_s  # key derivation, DELETE /cancel-all, the verification loop
    exit_s = cancel_s + call_s  # the bot's shielded per-market cancel-all on SIGTERM
    assert grace_s > prestop_s + exit_s
    env = env_of(bot_container())
    assert float(env["BOT_CANCEL_ALL_TIMEOUT_S"]) <= cancel_s and float(env["BOT_REQUEST_TIMEOUT_S"]) <= call_s


def test_probes_hit_the_metrics_endpoint_the_bot_serves() -> None:
    container = bot_container()
    env = env_of(container)
    (port,) = container["ports"]
    assert port["containerPort"] == int(env["BOT_METRICS_PORT"])
    assert env["BOT_METRICS_HOST"] == "0.0.0.0"  # the kubelet probes the pod IP
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": METRICS_PATH, "port": port["name"]}
    service_ports = the("Service")["spec"]["ports"]
    assert [p["targetPort"] for p in service_ports] == [port["name"]]
    (rule,) = the("NetworkPolicy")["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [port["containerPort"]]


def _run_wrapper(tmp_path: Path, pod_name: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "with-shard-env"
    script.write_text(the("ConfigMap")["data"]["with-shard-env"])
    return subprocess.run(
        ["/bin/sh", str(script), "/bin/sh", "-c", 'echo "$BOT_SHARD_INDEX ${#BOT_PRIVATE_KEY}"'],
        env={"POD_NAME": pod_name, "PMM_KEYS_DIR": str(tmp_path / "keys"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=30,
    )


def test_the_wrapper_takes_the_shard_from_the_pod_ordinal_and_reads_only_its_key(tmp_path: Path) -> None:
    for ordinal in (0, 12):
        key_dir = tmp_path / "keys" / f"shard-{ordinal}"
        key_dir.mkdir(parents=True)
        (key_dir / "private_key").write_text("0x" + "1" * (ordinal + 1))  # a length per shard, not a key
    assert _run_wrapper(tmp_path, "pmm-12").stdout.split() == ["12", "15"]
    assert _run_wrapper(tmp_path, "pmm-0").stdout.split() == ["0", "3"]
    missing = _run_wrapper(tmp_path, "pmm-3")
    assert missing.returncode == 2 and "no key for shard 3" in missing.stderr
    not_ordinal = _run_wrapper(tmp_path, "pmm")
    assert not_ordinal.returncode == 2 and "does not end in an ordinal" in not_ordinal.stderr
