"""The omnidex CLI contract on a local data directory: collection admin, put
(fvecs, jsonl), search (--json shape, filters, params), get, delete, and the
errors a user meets. Expected values come from the inputs written here."""
import json
import math
import os
import random
import shutil

from core_tap import OMNIDEX, done, jlines, ok, run, tmpdir, write_fvecs

d = tmpdir("omnidex-cli-")
data = os.path.join(d, "db")

rc, out, err = run(data, "collection", "create", "pets", "--dim", "4", "--metric", "l2", "--index", "Flat")
ok(rc == 0 and "created collection 'pets'" in out, "collection create", err)
rc, out, err = run(data, "collection", "create", "pets", "--dim", "4")
ok(rc == 1 and "already exists" in err and err.startswith("omnidex: error:"), "duplicate create is a clear error", err)
rc, out, err = run(data, "collection", "create", "x", "--dim", "0")
ok(rc == 2 and "--dim" in err, "bad --dim is a usage error", err)
rc, out, err = run(data, "collection", "create", "x", "--dim", "8", "--index", "Bogus99")
ok(rc == 1 and "Bogus99" in err, "bad index spec names the spec", err)
# Specs FAISS would assert on: refused by omnidex with the spec and the reason,
# never a C++ signature or a build path.
for spec, named in [("PQ5", ["'PQ5'", "dimension 16", "divide", "PQ4 or PQ8"]),
                    ("IVF16,PQ5", ["'IVF16,PQ5'", "'PQ5'", "divide"]),
                    ("HNSW32,PQ3", ["'PQ3'", "divide"]),
                    ("PCA12,PQ8", ["'PQ8'", "12 dimensions"]),
                    ("OPQ5,PQ4", ["'OPQ5'", "divide"]),
                    ("PQ32", ["'PQ32'", "1..16"]),
                    ("Flat,Flat", ["'Flat,Flat'", "could not parse"])]:
    rc, out, err = run(data, "collection", "create", "x", "--dim", "16", "--index", spec)
    ok(rc == 1 and all(w in err for w in named) and "Error in" not in err and ".cpp" not in err and "/" not in err,
       f"index spec {spec} on dim 16: a clear refusal", err)
for spec in ("PQ4", "PCA8,PQ4", "OPQ4_8,IVF4,PQ4"):
    rc, out, err = run(data, "collection", "create", "x", "--dim", "16", "--index", spec)
    ok(rc == 0, f"index spec {spec} on dim 16 accepted", err)
    run(data, "collection", "drop", "x")

items = [
    {"id": "cat", "vector": [1, 0, 0, 0], "metadata": {"kind": "mammal", "legs": 4, "weight": 4.5, "pet": True}},
    {"id": "dog", "vector": [0.9, 0.1, 0, 0], "metadata": {"kind": "mammal", "legs": 4, "weight": 30.0, "pet": True}},
    {"id": "snake", "vector": [0, 1, 0, 0], "metadata": {"kind": "reptile", "legs": 0, "weight": 2.0, "pet": False}},
    {"id": "parrot", "vector": [0, 0, 1, 0], "metadata": {"kind": "bird", "legs": 2, "weight": 0.4, "pet": True}},
    {"id": "spider", "vector": [0, 0, 0, 1], "metadata": {"kind": "arachnid", "legs": 8, "weight": 0.01}},
]
jl = os.path.join(d, "pets.jsonl")
with open(jl, "w") as f:
    for it in items:
        f.write(json.dumps(it) + "\n")
rc, out, err = run(data, "put", "pets", "--jsonl", jl)
ok(rc == 0 and "put: 5 items" in out, "put --jsonl", out + err)

rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--k", "3", "--json")
res = jlines(out)
ok(rc == 0 and len(res) == 1 and res[0]["query"] == 0 and [h["id"] for h in res[0]["hits"]] == ["cat", "dog", "snake"],
   "search --json shape and order", out + err)
if res:
    ok(abs(res[0]["hits"][1]["score"] - (0.1 ** 2 + 0.1 ** 2)) < 1e-5, "l2 score is the squared distance", out)

def ids_for(flt, k=10):
    rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--k", str(k), "--filter", flt, "--json")
    if rc != 0:
        return ("error", err)
    return sorted(h["id"] for h in jlines(out)[0]["hits"])

def truth(pred):
    return sorted(it["id"] for it in items if pred(it["metadata"]))

cases = [
    ('kind = "mammal"', lambda m: m.get("kind") == "mammal"),
    ("legs >= 4", lambda m: m.get("legs", -1) >= 4),
    ("weight < 2", lambda m: m.get("weight", 99) < 2),
    ("weight <= 2 AND legs > 0", lambda m: m.get("weight", 99) <= 2 and m.get("legs", -1) > 0),
    ('kind IN ("bird", "reptile") OR legs = 8', lambda m: m.get("kind") in ("bird", "reptile") or m.get("legs") == 8),
    ('NOT (kind = "mammal")', lambda m: m.get("kind") != "mammal"),
    ("pet = true", lambda m: m.get("pet") is True),
    ("pet != true", lambda m: m.get("pet") is not True),
    ("legs = 4.0", lambda m: m.get("legs") == 4),
    ('kind NOT IN ("mammal", "bird")', lambda m: m.get("kind") not in ("mammal", "bird")),
]
for flt, pred in cases:
    got = ids_for(flt)
    ok(got == truth(pred), f"filter {flt}", f"got {got}, want {truth(pred)}")

# A field's type is the type of the values stored for it: comparing a number
# field with a string (or a string field with a number, a bool with either)
# is an error naming the field, its type and the literal, not 0 hits.
for flt, named in [('legs > "3"', ["'legs'", "integer", '"3"']),
                   ("kind = 5", ["'kind'", "string", "5"]),
                   ("pet = 1", ["'pet'", "boolean", "1"]),
                   ('weight <= "2.5"', ["'weight'", "float", '"2.5"']),
                   ('kind IN ("bird", 3)', ["'kind'", "string", "3"]),
                   ('NOT (legs > "3") OR kind = "bird"', ["'legs'", "integer", '"3"'])]:
    rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--filter", flt, "--json")
    ok(rc == 1 and all(w in err for w in named) and err.count("filter:") == 1, f"filter {flt} does not type-check",
       out + err)
ok(ids_for("nosuchfield = 5") == [] and ids_for('nosuchfield = "x"') == [], "a field no item has: no error, 0 hits")
ok(ids_for('legs < 4.5') == truth(lambda m: m.get("legs", 99) < 4.5), "an integer field compares with a float")
rc, out, err = run(data, "collection", "create", "mixed", "--dim", "2")
mixed = os.path.join(d, "mixed.jsonl")
with open(mixed, "w") as f:
    f.write('{"id":"n","vector":[1,0],"metadata":{"v":1}}\n{"id":"s","vector":[0,1],"metadata":{"v":"x"}}\n')
rc, out, err = run(data, "put", "mixed", "--jsonl", mixed)
def mixed_ids(flt):
    rc, out, err = run(data, "search", "mixed", "--vector", "1,0", "--filter", flt, "--json")
    return sorted(h["id"] for h in jlines(out)[0]["hits"]) if rc == 0 else err
ok(mixed_ids("v = 1") == ["n"] and mixed_ids('v = "x"') == ["s"], "a field holding numbers and strings: each matches its own")
got = mixed_ids("v = true")
ok(isinstance(got, str) and "'v'" in got and "integer and string" in got, "... and a boolean fits neither", got)
rc, out, err = run(data, "collection", "drop", "mixed")

rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--filter", "legs >", "--json")
ok(rc == 1 and "filter" in err and "\n" == err[-1] and err.count("\n") == 1, "bad filter: one clear line", err)
rc, out, err = run(data, "search", "pets", "--vector", "1,0,0", "--json")
ok(rc == 1 and "dimension 4" in err, "wrong query dimension", err)
rc, out, err = run(data, "search", "nope", "--vector", "1,0,0,0")
ok(rc == 1 and "no collection named 'nope'" in err, "unknown collection", err)
rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--param", "efSearch=32", "--param", "nprobe=4", "--k", "2", "--json")
ok(rc == 0 and len(jlines(out)[0]["hits"]) == 2, "--param accepted", err)
rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--param", "warp=9")
ok(rc == 2 and "warp" in err, "unknown --param is a usage error", err)
rc, out, err = run(data, "search", "pets", "--vector", "1,0,0,0", "--k", "2000")
ok(rc == 2 and "--k" in err and "'2000'" in err, "k over 1024 refused, naming the value", err)

rc, out, err = run(data, "get", "pets", "dog", "--json")
g = json.loads(out) if rc == 0 else {}
ok(rc == 0 and g.get("metadata") == items[1]["metadata"] and g.get("vector") == [0.9000000358, 0.1000000015, 0, 0]
   or (rc == 0 and all(abs(a - b) < 1e-6 for a, b in zip(g.get("vector", []), items[1]["vector"]))
       and g.get("metadata") == items[1]["metadata"]), "get --json round-trips metadata and vector", out + err)
rc, out, err = run(data, "get", "pets", "unicorn")
ok(rc == 1 and "no item 'unicorn'" in err, "get of a missing id", err)

rc, out, err = run(data, "delete", "pets", "snake", "ghost")
# Delete is idempotent, as gRPC Delete is: ids that do not exist are reported, not an error.
ok(rc == 0 and "deleted 1 of 2; not found: ghost" in out and err == "", "delete names missing ids, exit 0", out + err)
rc, out, err = run(data, "delete", "pets", "snake")
ok(rc == 0 and "deleted 0 of 1; not found: snake" in out, "deleting again succeeds, deleting nothing", out + err)
rc, out, err = run(data, "delete", "nope", "snake")
ok(rc == 1 and "nope" in err, "delete in an unknown collection is an error", out + err)
rc, out, err = run(data, "delete", "--help")
ok(rc == 0 and "not found" in out and "idempotent" in out, "delete --help states the semantics", out + err)
rc, out, err = run(data, "search", "pets", "--vector", "0,1,0,0", "--k", "10", "--json")
ok(rc == 0 and "snake" not in [h["id"] for h in jlines(out)[0]["hits"]], "deleted item not searchable", out)

# Replacing an item by id (upsert) changes its vector and metadata.
with open(jl, "w") as f:
    f.write(json.dumps({"id": "cat", "vector": [0, 0, 0, 2], "metadata": {"kind": "robot"}}) + "\n")
rc, out, err = run(data, "put", "pets", "--jsonl", jl)
rc, out, err = run(data, "search", "pets", "--vector", "0,0,0,2", "--k", "1", "--json")
ok(rc == 0 and jlines(out)[0]["hits"][0]["id"] == "cat", "upsert replaces the vector", out + err)
ok(ids_for('kind = "robot"') == ["cat"] and "cat" not in ids_for('kind = "mammal"'), "upsert replaces metadata")

# Bad JSONL lines are reported with file and line; nothing of a failed batch lands.
bad = os.path.join(d, "bad.jsonl")
for content, want in [
    ('{"id":"a","vector":[1,2,3,4]}\n{"id":"b","vector":[1,"x",3,4]}\n', ":2: vector[1] is not a number"),
    ('{"id":"n","vector":[1,2,3,NaN]}\n', ":1: not a JSON object"),
    ('{"id":"a","vector":[1,2,3,4],"metadata":{"k":[1]}}\n', "only strings, numbers and booleans"),
    ('{"vector":[1,2,3,4]}\n', '"id" must be a string'),
    ('{"id":"w","vector":[1,2,3]}\n', "dimension 4"),
    ('{"id":"h","vector":[1e39,0,0,0]}\n', "NaN or Inf"),
]:
    with open(bad, "w") as f:
        f.write(content)
    rc, out, err = run(data, "put", "pets", "--jsonl", bad)
    ok(rc == 1 and want in err, f"bad jsonl: {want}", err)
rc, out, err = run(data, "get", "pets", "a")
ok(rc == 1, "a failed batch is not partially applied", out)

# fvecs: ids from --ids-start; a truncated file is an error naming the record.
fv = os.path.join(d, "v.fvecs")
rows = [[random.random() for _ in range(4)] for _ in range(50)]
write_fvecs(fv, rows)
rc, out, err = run(data, "put", "pets", "--fvecs", fv, "--ids-start", "1000")
ok(rc == 0 and "put: 50 items" in out, "put --fvecs", out + err)
rc, out, err = run(data, "get", "pets", "1049", "--json")
ok(rc == 0 and all(abs(a - b) < 1e-6 for a, b in zip(json.loads(out)["vector"], rows[49])), "fvecs ids from --ids-start", out + err)
with open(fv, "rb") as f:
    blob = f.read()
with open(fv, "wb") as f:
    f.write(blob[:-3])
rc, out, err = run(data, "put", "pets", "--fvecs", fv)
ok(rc == 1 and "truncated" in err, "truncated fvecs", err)

rc, out, err = run(data, "collection", "info", "pets", "--json")
info = json.loads(out) if rc == 0 else {}
ok(rc == 0 and info.get("count") == 4 + 50 and info.get("dim") == 4 and info.get("metric") == "l2", "collection info --json", out + err)
rc, out, err = run(data, "collection", "list", "--json")
ok(rc == 0 and json.loads(out) == ["pets"], "collection list --json", out + err)
rc, out, err = run(data, "collection", "drop", "pets")
ok(rc == 0, "collection drop", err)
rc, out, err = run(data, "collection", "list")
ok(rc == 0 and out == "", "list after drop", out)

if not os.environ.get("OMNIDEX_TEST_SERVER"):
    rc, out, err = run(os.path.join(d, "never-created"), "collection", "list")
    ok(rc == 1 and "does not exist" in err, "reading a missing data directory", err)
rc, out, err = run(data, "frobnicate")
ok(rc == 2 and "unknown command" in err, "unknown command", err)
rc, out, err = run(data, "--help")
ok(rc == 0 and "collection create" in out and "search" in out, "--help", err)
rc, out, err = run(data, "search", "--help")
ok(rc == 0 and "--filter" in out, "search --help", err)

shutil.rmtree(d, ignore_errors=True)
done()
