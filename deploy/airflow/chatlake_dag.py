"""chatlake in Airflow: the nightly run, and an export per logical day.

Two DAGs run the chatlake image with KubernetesPodOperator (apache-airflow-providers-cncf-
kubernetes >= 6.1 for skip_on_exit_code):

* ``chatlake_nightly``: ``chatlake run`` every night at 02:00 UTC. chatlake decides from the
  lake's watermark what to export (every closed day since the last run, plus a lookback for
  late messages), so a missed night needs no catch-up run: ``catchup=False``.
* ``chatlake_export_day``: ``chatlake export --from {{ ds }} --to {{ ds }}``, one UTC day per
  DAG run. ``{{ ds }}`` is the run's logical date, the start of its data interval: the run for
  2024-05-01 starts after 2024-05-02T00:00 UTC, when that day is closed. Use it for backfills
  driven by Airflow (``airflow dags backfill -s 2024-01-01 -e 2024-03-31 chatlake_export_day``);
  it is created paused. Each export replaces its day in the lake, so re-running a DAG run is
  harmless.

Both write one lake, whose lock lets one run at a time write it: a second run exits 3 and
writes nothing. The nightly run skips itself then (the next night catches up); a day's export
is retried later. ``max_active_runs=1`` keeps each DAG from competing with itself.

Exit codes: 0 ok, 1 failed or incomplete (retry: it continues), 2 bad input (a retry fails the
same way), 3 the lake is locked by another run.

Without Kubernetes, the same commands run with BashOperator, e.g.
``BashOperator(task_id="export", bash_command="chatlake export ... --from {{ ds }} --to {{ ds }}",
skip_on_exit_code=None)`` on a worker that has the binary and the key file.
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret

IMAGE = "europe-docker.pkg.dev/PROJECT/chatlake/chatlake:TAG"
LAKE = "gs://acme-lake/chat"

# The Technowiz connection; the key itself comes from the Kubernetes Secret below as a file.
CONNECTION = [
    "--api-url=https://bots.example.com",
    "--customer=1001",
    "--bot=0123456789abcdef",
    "--users-where=user.channel=whatsapp",
    "--users-where=user.channel=web",
    "--lake=" + LAKE,
    "--api-key-file=/var/run/secrets/technowiz/api-key",
    "--log-format=json",
]

# The Kubernetes Secret "technowiz-api-key" (key "api-key") mounted as a volume: the file
# /var/run/secrets/technowiz/api-key.
API_KEY = Secret(
    deploy_type="volume",
    deploy_target="/var/run/secrets/technowiz",
    secret="technowiz-api-key",
)

EXIT_LOCKED = 3

POD = dict(
    namespace="chatlake",
    image=IMAGE,
    service_account_name="chatlake",  # Workload Identity: GCS access without a key file
    secrets=[API_KEY],
    get_logs=True,
    on_finish_action="delete_pod",
)

with DAG(
    dag_id="chatlake_nightly",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=20),
    tags=["chatlake"],
) as nightly:
    KubernetesPodOperator(
        task_id="run",
        name="chatlake-nightly",
        # --from is used only while the lake has no state (the first run).
        arguments=["run", *CONNECTION, "--from=2024-01-01"],
        # Another run holds the lake: skip; tomorrow's run exports every day after the watermark.
        skip_on_exit_code=EXIT_LOCKED,
        retries=2,
        retry_delay=timedelta(minutes=15),
        execution_timeout=timedelta(hours=18),
        **POD,
    )

with DAG(
    dag_id="chatlake_export_day",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=True,
    max_active_runs=1,
    is_paused_upon_creation=True,
    tags=["chatlake"],
) as export_day:
    KubernetesPodOperator(
        task_id="export",
        name="chatlake-export",
        # arguments is a templated field: {{ ds }} becomes the run's logical date, YYYY-MM-DD.
        arguments=["export", *CONNECTION, "--from", "{{ ds }}", "--to", "{{ ds }}"],
        # A locked lake (exit 3) and API failures (exit 1) are retried later.
        retries=6,
        retry_delay=timedelta(minutes=20),
        execution_timeout=timedelta(hours=6),
        **POD,
    )
