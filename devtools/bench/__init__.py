"""``manage.py bench``: how kcdir performs on enterprise-scale data.

Prints one report, in five parts, each with its targets marked met / not met:

1. pages and actions through Django's test client, in process: queries, and p50/p95
   server time (``perf_counter`` around the request, streamed bodies included)
   (``pages.py``);
2. the same searches in the Django admin's change lists, and the ratio (``searches.py``);
3. throughput under gunicorn with the production config (``gunicorn.conf.py``,
   DEBUG off, collected static files), measured with wrk (20 connections): the
   directory, a constant "hello" behind the production middleware for the same
   signed-in user, and a "hello" with no middleware at all (``throughput.py``);
4. a 10,000-row roster import and a 1,000,000-row membership export (``bulk.py``);
5. varied requests, the first visitor's view: distinct URLs of eight kinds drawn by a
   seeded generator (``varied.py``), each requested once, in process (time and queries
   of each) and then mixed under gunicorn with wrk (``varied_run.py``, ``each_once.lua``),
   against the signed-in hello measured in the same run.

The command (``devtools/management/commands/bench.py``) loads the enterprise data first
if it is absent, and always exits 0: it is a report. The last line says how many
targets were met (``report.py``).
"""
