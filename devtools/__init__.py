"""Developer tools: the demo data (``manage.py seed_demo``) and the benchmark (``manage.py bench``).

The top floor: it may use every app, and no app uses it. Nothing here serves patients or staff.
"""
