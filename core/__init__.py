"""The core every other package imports: settings and configuration, errors and exit codes, the
contracts between components, the data set's description, node ids, the tile geometry and the
run-time paths. It imports nothing of the project's other packages."""
