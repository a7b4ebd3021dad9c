"""The Ray Serve application: the FastAPI app of ``altgen serve`` as the ingress, beside the captioner and
/config store deployments, every option taken from ``Settings`` (docs/ray.md: settings on Ray).

``serve run altgen.distributed.app:build`` starts it from the ``ALTGEN_*`` environment (``key=value``
arguments override it); ``altgen serve --engine ray`` does the same from its flags.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

from altgen.api.app import create_app
from altgen.distributed.captioner import Captioner
from altgen.distributed.remote_captioning import RemoteCaptioning
from altgen.distributed.shared_config import ConfigStore, ServeResizeStore
from altgen.logs import configure_logging
from altgen.settings import Settings


class IngressReplica:
    def __init__(self, settings: Settings, captioner: DeploymentHandle, config_store: DeploymentHandle):
        configure_logging(settings.log_level)
        self._settings, self._captioner, self._config_store = settings, captioner, config_store

    def __serve_build_asgi_app__(self):
        settings = self._settings
        self._app = create_app(
            settings,
            remote_captioning=lambda settings, admission: RemoteCaptioning(self._captioner, settings, admission),
            resize_store=ServeResizeStore(self._config_store),
        )
        return self._app

    def replica_state(self) -> dict:
        """This replica's view, for a check that each replica took a /config change (a handle call, not a route)."""
        service = self._app.state.service
        return {
            "replica": serve.get_replica_context().replica_tag,
            "resize": service.resize.model_dump(),
            "ready": service.ready,
        }


# Decorated apart from the class, so that replicas import the class by name rather than unpickle a copy of it.
Ingress = serve.deployment(name="Ingress")(serve.ingress()(IngressReplica))


def captioner_scaling(settings: Settings) -> dict[str, Any]:
    """A fixed count, or Serve's autoscaling on requests waiting in (or batched by) each captioner replica."""
    low, high = settings.ray_captioner_min_replicas, settings.ray_captioner_max_replicas
    if low == high:
        return {"num_replicas": low}
    return {
        "autoscaling_config": {
            "min_replicas": low,
            "max_replicas": high,
            "target_ongoing_requests": settings.ray_target_ongoing_requests,
        }
    }


def build_app(settings: Settings) -> Application:
    captioner = Captioner.options(
        ray_actor_options={"num_cpus": settings.ray_captioner_num_cpus, "num_gpus": settings.ray_captioner_num_gpus},
        # Every waiting request must reach a replica's own queue, where photos batch; a full queue answers 503.
        max_ongoing_requests=settings.queue_capacity,
        max_queued_requests=settings.queue_capacity,
        graceful_shutdown_timeout_s=settings.shutdown_grace_s,
        **captioner_scaling(settings),
    ).bind(settings)
    store = ConfigStore.bind(settings.resize_config())
    return Ingress.options(
        num_replicas=settings.ray_ingress_replicas,
        ray_actor_options={"num_cpus": settings.ray_ingress_num_cpus},
        max_ongoing_requests=settings.max_connections,
        graceful_shutdown_timeout_s=settings.shutdown_grace_s,
    ).bind(settings, captioner, store)


def build(args: dict[str, str]) -> Application:
    """The application builder for ``serve run`` and RayService configs: ``ALTGEN_*`` variables, then ``args``."""
    return build_app(Settings(**args))
