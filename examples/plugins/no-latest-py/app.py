"""no-latest-py: a kube-devops analyzer plugin in Python.

componentize-py (build.sh) makes this module a WebAssembly component of the `analyzer` world of
wit/analyzer.wit (contract 0.2.2): `metadata`, `configure` and `analyze` below are its exports.
WIT records are dataclasses of `wit_world.imports.types`, enums are Python enums, an absent
`option` is None, and `configure`'s `result<_, string>` is a normal return for ok and
`raise Err(...)` for err. The pod `analyze` receives is the `pod` resource, an instance of
`wit_world.imports.pod.Pod`: its accessors (`pod.metadata()`, `pod.spec()`, `pod.containers()`,
`pod.init_containers()`, ...) each copy one part of the pod into the component when called, so
read only the parts the check needs, once each. Import every module at the top: the component
has no filesystem to import from later.
"""
import json
from typing import List

import wit_world
from wit_world.imports import types
from wit_world.imports.pod import Pod
from componentize_py_types import Err

CHECK_ID = "python-latest-tag"

# Module-level state persists across calls within one instance.
_ignore: List[str] = []


def _unpinned(image: str) -> bool:
    """True when the image has no tag or the `latest` tag. Digests count as pinned."""
    if "@" in image:  # repo@sha256:... (with or without a tag) is pinned
        return False
    last = image.rsplit("/", 1)[-1]  # drop registry[:port]/path
    if ":" not in last:
        return True
    return last.rsplit(":", 1)[1] == "latest"


class WitWorld(wit_world.WitWorld):
    def metadata(self) -> types.PluginMetadata:
        return types.PluginMetadata(
            name="no-latest-py",
            version="0.1.0",
            description="Flags container images without a pinned tag (Python plugin)",
            checks=[
                types.CheckInfo(
                    id=CHECK_ID,
                    description="Container image has no tag or uses `latest`; pin a version or digest",
                    default_severity=types.Severity.HIGH,
                    default_weight=5,
                    kind=types.CheckKind.SPEC,
                )
            ],
        )

    def configure(self, settings: str) -> None:
        global _ignore
        try:
            cfg = json.loads(settings or "{}")
        except ValueError as e:
            raise Err(f"settings: invalid JSON: {e}")
        if not isinstance(cfg, dict):
            raise Err("settings: expected a JSON object")
        for key in cfg:
            if key != "ignoreImages":
                raise Err(f"settings.{key}: unknown setting (known: ignoreImages)")
        ignore = cfg.get("ignoreImages", [])
        if not isinstance(ignore, list) or not all(isinstance(s, str) for s in ignore):
            raise Err("settings.ignoreImages: expected a list of strings (image name prefixes)")
        _ignore = ignore

    def analyze(self, pod: Pod) -> List[types.Finding]:
        out: List[types.Finding] = []
        # Init and regular containers, as the built-in `latest-tag` check reads: only these two
        # parts of the pod are copied in (not its metadata, volumes or status).
        for c in pod.init_containers() + pod.containers():
            img = c.image
            if not _unpinned(img) or any(img.startswith(p) for p in _ignore):
                continue
            what = "uses the `latest` tag" if img.endswith(":latest") else "has no tag (defaults to `latest`)"
            out.append(types.Finding(
                check=CHECK_ID,
                container=c.name,
                message=f"image `{img}` {what}; pin a version tag or an @sha256 digest",
                magnitude=1,
                severity=None,
            ))
        return out
