#!/usr/bin/python3
"""The two controllers of the test bed that Debian has no package for, polling the API server.

    node_agent.py dns      cluster DNS: Services and Endpoints -> a hosts file that dnsmasq
                           (--hostsdir, inotify) serves as <svc>.<ns>.svc.<domain>, plus
                           <pod-hostname>.<svc>... records of headless Services (CoreDNS' job)
    node_agent.py volumes  dynamic provisioning for StorageClasses whose provisioner is
                           recsys.io/host-folder: one real folder per claim (mode 0777, so pods of
                           any uid can write, as an EFS access point lets them), a hostPath PV
                           bound to the claim, both deleted when a Delete-policy claim goes

kube-controller-manager's own hostPath provisioner is not used: it makes root-owned 0750
folders under a fixed /tmp/hostpath_pv that the project's non-root pods cannot write.
Standard library only (it runs with Debian's python3). Bounded: stops after MAX_POLLS polls.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

STATE = Path(os.environ["RECSYS_CLUSTER_STATE"])
API = os.environ["RECSYS_CLUSTER_API"]
DOMAIN = os.environ.get("RECSYS_CLUSTER_DOMAIN", "cluster.local")
PROVISIONER = "recsys.io/host-folder"
MAX_POLLS = int(os.environ.get("RECSYS_CLUSTER_MAX_POLLS", "172800"))  # 48 h at 1 s
POLL_S = 1.0

TOKEN = next(
    line.split(",")[0]
    for line in (STATE / "pki" / "tokens.csv").read_text().splitlines()
    if ",admin," in line
)
CONTEXT = ssl.create_default_context(cafile=str(STATE / "pki" / "ca.crt"))


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(API + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + TOKEN)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, context=CONTEXT, timeout=10) as response:
        return json.load(response)


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


# --- DNS ---------------------------------------------------------------------------------


def dns_records() -> str:
    endpoints = {
        (e["metadata"]["namespace"], e["metadata"]["name"]): e
        for e in call("GET", "/api/v1/endpoints")["items"]
    }
    lines = []
    for service in call("GET", "/api/v1/services")["items"]:
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        fqdn = f"{name}.{namespace}.svc.{DOMAIN}"
        ip = service["spec"].get("clusterIP")
        if ip and ip != "None":
            lines.append(f"{ip} {fqdn}")
            continue
        for subset in (endpoints.get((namespace, name)) or {}).get("subsets") or []:
            for address in subset.get("addresses") or []:
                lines.append(f"{address['ip']} {fqdn}")
                if address.get("hostname"):
                    lines.append(f"{address['ip']} {address['hostname']}.{fqdn}")
    return "\n".join(sorted(set(lines))) + "\n"


def dns(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    last = None
    for _ in range(MAX_POLLS):
        try:
            text = dns_records()
            if text != last:
                tmp = out / ".hosts.tmp"
                tmp.write_text(text)
                tmp.replace(out / "hosts")
                log(f"wrote {text.count(chr(10))} records")
                last = text
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            log(f"error: {exc}")
        time.sleep(POLL_S)


# --- volumes -----------------------------------------------------------------------------


def event(claim: dict[str, Any], reason: str, message: str, type_: str = "Normal") -> None:
    meta = claim["metadata"]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    call(
        "POST",
        f"/api/v1/namespaces/{meta['namespace']}/events",
        {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": "v1",
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": PROVISIONER},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        },
    )


def provision(claim: dict[str, Any], klass: dict[str, Any], root: Path) -> None:
    meta, spec = claim["metadata"], claim["spec"]
    name = f"pvc-{meta['uid']}"
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o777)  # any pod uid may write, as on an EFS access point
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": klass.get("reclaimPolicy") or "Delete",
            "storageClassName": klass["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": str(folder), "type": "Directory"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }
    call("POST", "/api/v1/persistentvolumes", volume)
    event(claim, "ProvisioningSucceeded", f"Successfully provisioned volume {name} at {folder}")
    log(f"provisioned {name} for {meta['namespace']}/{meta['name']} ({size}) at {folder}")


def reclaim(volume: dict[str, Any], root: Path) -> None:
    name = volume["metadata"]["name"]
    folder = Path((volume["spec"].get("hostPath") or {}).get("path", ""))
    if folder.parent == root:  # never anything outside the volumes folder
        shutil.rmtree(folder, ignore_errors=True)
    call("DELETE", f"/api/v1/persistentvolumes/{name}")
    log(f"deleted {name} and {folder}")


def volumes_pass(root: Path) -> None:
    classes = {
        c["metadata"]["name"]: c
        for c in call("GET", "/apis/storage.k8s.io/v1/storageclasses")["items"]
        if c.get("provisioner") == PROVISIONER
    }
    existing = {v["metadata"]["name"]: v for v in call("GET", "/api/v1/persistentvolumes")["items"]}
    for claim in call("GET", "/api/v1/persistentvolumeclaims")["items"]:
        klass = classes.get(claim["spec"].get("storageClassName") or "")
        pending = (claim.get("status") or {}).get("phase") == "Pending" and not claim["spec"].get(
            "volumeName"
        )
        if klass and pending and f"pvc-{claim['metadata']['uid']}" not in existing:
            provision(claim, klass, root)
    for volume in existing.values():
        ours = (volume["metadata"].get("annotations") or {}).get(
            "pv.kubernetes.io/provisioned-by"
        ) == PROVISIONER
        released = (volume.get("status") or {}).get("phase") in ("Released", "Failed")
        if ours and released and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            reclaim(volume, root)


def volumes(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(MAX_POLLS):
        try:
            volumes_pass(root)
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            log(f"error: {exc}")
        time.sleep(POLL_S)


if __name__ == "__main__":
    if sys.argv[1:] == ["dns"]:
        dns(STATE / "dns")
    elif sys.argv[1:] == ["volumes"]:
        volumes(STATE / "volumes")
    else:
        sys.exit("usage: node_agent.py dns|volumes")
