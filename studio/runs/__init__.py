"""Live runs of crews.

models.py       Run (frozen crew, status, lease/heartbeat, usage), Message (per-run seq), HumanInputRequest
services.py     start_run, reply_to_request (exactly once), cancel_run: what views, the socket and the CLI call
persistence.py  the worker's writes: claim_run, save_step (messages + snapshot in one transaction), fail/cancel
recovery.py     the stale-heartbeat sweep (workers run it on a timer; `manage.py recover_runs` once)
events.py       relay events (the database is the record, events are a doorbell) and task dispatch
consumer_base.py  what both run sockets share: replay from a seq, relay, the per-event access check
                (one database hop per event)
consumers.py    /ws/runs/<uuid>/: access check, replay from a seq, live fragments, replies
rendering.py    the HTML fragments, from templates/runs/ (one place for the page and the socket)
views.py        start / reply / cancel POST endpoints (JSON or htmx) and a minimal run page
conf.py         PARLEY_RUN_* knobs
sharing.py      read-only share links: RunShare, make / revoke / find, the link pages and the shared page
shared_consumer.py  /ws/shared/<token>/: the shared page's socket (read-only, re-checks the link per event)

The step loop itself is workers/runloop.py (run by workers.tasks.start_run / continue_run).
"""
