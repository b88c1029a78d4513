"""CSV in and out of kcdir.

- ``cells``: spreadsheet-safe cells and CSV lines, shared by every file kcdir writes
  and read back by imports;
- ``roster_upload``: an uploaded roster read into a plan a steward previews (the
  write is ``services.apply_roster_import``);
- ``exports``: the roster, every-membership and directory downloads, streamed;
- ``pg_copy``: the PostgreSQL ``COPY`` plumbing the exports use when they can.
"""
