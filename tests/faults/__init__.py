"""Faults kcdir survives, on real services on this machine (``make faults``).

Each test starts what it breaks: its own PostgreSQL cluster (initdb into a temporary
folder, a free port), its own redis-server, gunicorn with the production settings and
``gunicorn.conf.py``, a small tmpfs for SQLite. Nothing here touches the machine's shared
PostgreSQL or Redis. docs/RELIABILITY.md ("Faults kcdir survives") lists the faults and
what was measured.
"""
