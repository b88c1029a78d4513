"""kcdir's development tooling: demo and enterprise data, the benchmark, the load test.

Installed by ``devtools.settings`` (development and tests) and the bench settings only;
production's ``kcdir.settings`` does not install it, and product code never imports it.
"""
