"""When a web service was last deployed, from the providers that say so.

StackDock has no deploy-time column, and `updatedAt` is when StackDock last synced the row (every
few minutes), never a deploy. Two providers put deploy times in the payload StackDock keeps:
Vercel (the production deployment's `createdAt`, else the newest of `latestDeployments`, both
milliseconds) and Netlify (`published_deploy.published_at`, ISO 8601). For every other provider
the honest answer is that StackDock holds no deploy time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.stackdock.fields import epoch_ms, provider_id

DEPLOY_REPORTING_PROVIDERS: tuple[str, ...] = ("vercel", "netlify")


@dataclass(frozen=True, slots=True)
class LastDeploy:
    at_ms: float | None
    source: str  # the payload field it came from, or why there is none


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _vercel(api: Mapping[str, Any]) -> LastDeploy:
    production = epoch_ms(_path(api, "targets", "production", "createdAt"))
    if production is not None:
        return LastDeploy(production, "Vercel production deployment (targets.production.createdAt)")
    deployments = api.get("latestDeployments")
    times = [
        t
        for d in (deployments if isinstance(deployments, list) else [])
        if (t := epoch_ms(_path(d, "createdAt"))) is not None
    ]
    if times:
        return LastDeploy(max(times), "newest Vercel deployment (latestDeployments[].createdAt)")
    return LastDeploy(None, "Vercel sent no deployment for this project")


def _netlify(api: Mapping[str, Any]) -> LastDeploy:
    published = epoch_ms(_path(api, "published_deploy", "published_at"))
    if published is not None:
        return LastDeploy(published, "Netlify published deploy (published_deploy.published_at)")
    return LastDeploy(None, "Netlify reports no published deploy for this site")


def last_deploy(doc: Mapping[str, Any]) -> LastDeploy:
    """The web service's last deploy time and where it came from (None when unknown)."""
    provider = provider_id(doc.get("provider"))
    api = doc.get("fullApiData")
    api = api if isinstance(api, Mapping) else {}
    if provider == "vercel":
        return _vercel(api)
    if provider == "netlify":
        return _netlify(api)
    return LastDeploy(
        None, f"{provider or 'this provider'} does not report deploy times to StackDock"
    )
