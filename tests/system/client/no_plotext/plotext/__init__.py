# Put first on PYTHONPATH by test_newcomer_cli.py: makes `import plotext` fail as on a machine without it.
raise ImportError("No module named 'plotext'")
