import json
def read_config(path):
    with open(path) as f:
        return json.load(f)
try:
    cfg = read_config("/tmp/lp-c/missing-config.json")
except FileNotFoundError:
    raise RuntimeError("cannot start training: no config") 
