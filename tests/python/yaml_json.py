"""Prints the YAML documents of each file named on the command line as one JSON object,
{"PATH": [document, ...], ...}: the suite reads deploy/kubernetes/ with it (tests/suite/deploy.rs)
and has no YAML parser of its own. PyYAML comes with kubernetes-validate (requirements.txt)."""

import json
import sys

import yaml

documents = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        documents[path] = [doc for doc in yaml.safe_load_all(f) if doc is not None]
json.dump(documents, sys.stdout)
