#!/usr/bin/python3
"""An independent reader of an Iceberg table's snapshots (nothing of iceberg-go).

Usage: read_snapshot.py [--all] [--root-map URI=DIR]... METADATA_JSON

METADATA_JSON is the table's metadata file (a local path or a file:// URI): the catalog's
iceberg_tables.metadata_location. For a table on a cloud store (gs://, s3://, abfss://) whose
objects were copied to a local directory, --root-map URI=DIR reads a URI that starts with URI
from the same path below DIR (the paths printed stay the URIs the metadata records). It reads that JSON, the snapshot's manifest list (Avro) and
its manifests (Avro) with Debian's python3-avro and prints JSON:

  {"metadata": ..., "snapshot_id": N, "summary": {...},
   "files": [{"path", "record_count", "file_size_in_bytes", "partition": {name: value}}],
   "manifests": N}

for the current snapshot ("snapshot_id": null and no files for a table without one), the live
data files only (manifest entries whose status is not DELETED), sorted by path. Day-transform
partition values are printed as YYYY-MM-DD. With --all it prints
{"metadata", "current_snapshot_id", "snapshots": [{"snapshot_id", "parent_id", "summary",
"files", "manifests"}]} for every snapshot the metadata still holds.
"""

import datetime
import json
import sys
import urllib.parse

import avro.datafile
import avro.io

EPOCH = datetime.date(1970, 1, 1)
STATUS_DELETED = 2
CONTENT_DATA = 0


ROOT_MAPS = []  # (URI prefix, local directory), from --root-map


def local_path(uri):
    """Turns a file:// URI (or a plain path) into a local path, and a URI below a --root-map
    prefix into the path below its directory; other schemes are refused."""
    for prefix, directory in ROOT_MAPS:
        if uri.startswith(prefix + "/"):
            return directory.rstrip("/") + "/" + urllib.parse.unquote(uri[len(prefix) + 1 :])
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme in ("", "file"):
        return urllib.parse.unquote(parsed.path) if parsed.scheme else uri
    raise SystemExit("read_snapshot: only local files are supported, not %s" % parsed.scheme)


def read_avro(uri):
    with open(local_path(uri), "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        try:
            return list(reader)
        finally:
            reader.close()


def day_names(metadata):
    """Names of the partition fields that a day transform produces, over every spec."""
    names = set()
    for spec in metadata.get("partition-specs", []):
        for field in spec.get("fields", []):
            if field.get("transform") == "day":
                names.add(field["name"])
    return names


def partition_value(name, value, days):
    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if name in days and isinstance(value, int):
        return (EPOCH + datetime.timedelta(days=value)).isoformat()
    return value


def snapshot_files(snapshot, days):
    """The live data files of snapshot, and the number of manifests its manifest list names."""
    files = []
    manifests = read_avro(snapshot["manifest-list"])
    for manifest in manifests:
        if manifest.get("content", 0) != CONTENT_DATA:
            continue
        for entry in read_avro(manifest["manifest_path"]):
            if entry["status"] == STATUS_DELETED:
                continue
            data = entry["data_file"]
            if data.get("content", 0) != CONTENT_DATA:
                continue
            partition = {
                k: partition_value(k, v, days) for k, v in (data.get("partition") or {}).items()
            }
            files.append(
                {
                    "path": data["file_path"],
                    "record_count": data["record_count"],
                    "file_size_in_bytes": data["file_size_in_bytes"],
                    "partition": partition,
                }
            )
    files.sort(key=lambda f: f["path"])
    return files, len(manifests)


def main(argv):
    all_snapshots = False
    args = []
    rest = argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "--all":
            all_snapshots = True
        elif arg == "--root-map" and rest:
            prefix, sep, directory = rest.pop(0).partition("=")
            if not sep or not prefix or not directory:
                raise SystemExit("read_snapshot: --root-map wants URI=DIR")
            ROOT_MAPS.append((prefix.rstrip("/"), directory))
        else:
            args.append(arg)
    if len(args) != 1:
        raise SystemExit("usage: read_snapshot.py [--all] [--root-map URI=DIR]... METADATA_JSON")
    location = args[0]
    with open(local_path(location), "rb") as f:
        metadata = json.load(f)
    days = day_names(metadata)
    snapshots = {s["snapshot-id"]: s for s in metadata.get("snapshots", [])}
    current = metadata.get("current-snapshot-id")
    if current == -1:
        current = None

    if all_snapshots:
        out = {"metadata": location, "current_snapshot_id": current, "snapshots": []}
        for s in metadata.get("snapshots", []):
            files, manifests = snapshot_files(s, days)
            out["snapshots"].append(
                {
                    "snapshot_id": s["snapshot-id"],
                    "parent_id": s.get("parent-snapshot-id"),
                    "summary": s.get("summary", {}),
                    "files": files,
                    "manifests": manifests,
                }
            )
    else:
        out = {"metadata": location, "snapshot_id": current, "summary": {}, "files": [], "manifests": 0}
        if current is not None:
            s = snapshots[current]
            out["summary"] = s.get("summary", {})
            out["files"], out["manifests"] = snapshot_files(s, days)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
