import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the product. With no broker configured (the embedded default) this is the "
        "ASGI web server alone; with REDIS_URL or CELERY_BROKER_URL set it also starts a "
        "Celery worker and Celery beat. It prefixes their logs, restarts one that dies (see "
        "assistant.supervisor), and stops them all on Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def processes(self, host: str, port: int) -> dict[str, list[str]]:
        python = sys.executable
        # The site's own ASGI application ("config.asgi.application" here).
        module, _, attribute = settings.ASGI_APPLICATION.rpartition(".")
        web = [
            python,
            "-m",
            "uvicorn",
            f"{module}:{attribute}",
            "--host",
            host,
            "--port",
            str(port),
            "--lifespan",
            "off",
            # Stream frames are a few tokens each: compressing them costs more CPU than it
            # saves bytes, and a compressor per socket is most of a socket's memory.
            "--ws-per-message-deflate",
            "false",
        ]
        # uvicorn believes X-Forwarded-For/-Proto from 127.0.0.1 unless told otherwise;
        # only the configured proxies may set them (as accounts.clients does for Django).
        if settings.TRUSTED_PROXIES:
            web += ["--proxy-headers", "--forwarded-allow-ips", ",".join(settings.TRUSTED_PROXIES)]
        else:
            web.append("--no-proxy-headers")
        if settings.TASKS_IN_PROCESS:
            return {"web": web}
        return {
            "web": web,
            # Workers need not sync with each other at start (mingle) or gossip: the
            # assistant revokes nothing; a cancel is a flag the run reads.
            "worker": [python, "-m", "celery", "-A", "assistant.celery", "worker", "--loglevel", "INFO"]
            + ["--without-mingle", "--without-gossip"],
            "beat": [python, "-m", "celery", "-A", "assistant.celery", "beat", "--loglevel", "INFO"],
        }

    def handle(self, *args, host, port, **options):
        from assistant.supervisor import Supervisor

        supervisor = Supervisor(self.processes(host, port))
        self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl-C stops it)")
        self.stdout.flush()
        sys.exit(supervisor.run())
