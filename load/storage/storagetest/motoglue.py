# moto's server with AWS Glue's optimistic locking: UpdateTable with a VersionId that is not the
# table's current version fails with ConcurrentModificationException, as AWS Glue documents.
# moto 5.2.1 ignores UpdateTable's VersionId (a stale writer overwrites the table). Run as
# `python3 -c "$(cat motoglue.py)" -H 127.0.0.1 -p0`: the arguments are moto_server's.
import sys
import threading

from moto.glue.exceptions import GlueClientError
from moto.glue.responses import GlueResponse
from moto.server import main


class ConcurrentModificationException(GlueClientError):
    def __init__(self) -> None:
        super().__init__("ConcurrentModificationException",
                         "Update table failed due to concurrent modifications.")


_lock = threading.Lock()
_update_table = GlueResponse.update_table


def update_table(self):
    version = self.parameters.get("VersionId")
    with _lock:  # the check and the update, atomic across the server's threads
        if version is not None:
            name = self.parameters.get("TableInput", {}).get("Name")
            table = self.glue_backend.get_table(self.parameters.get("DatabaseName"), name)
            if str(table._current_version) != str(version):
                raise ConcurrentModificationException()
        return _update_table(self)


GlueResponse.update_table = update_table
main(sys.argv[1:])
