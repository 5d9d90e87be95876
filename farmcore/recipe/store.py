"""The recipes a site can run, by kind and `id@version`, read from an ordered list of folders and read again
when a file changes.

The daemon (a zone switched by command, a zone's recipe reloaded), `site check` and the officers' recipe
editor ask here which recipes a zone of a kind may run. The folders are searched in order: the site file's
own folder first, then the shipped recipes (`zonerecipe.RECIPES_DIR`, each kind's subfolder), so a site may
carry recipes and versions of its own. A recipe is keyed by its kind and its head's `id@version`; versions
are integers (RecipeHead), so 10 is newer than 9. When two files give the same key, the one in the earlier
folder (then the earlier name) is used and the other is listed as skipped. A file that does not load is
skipped with its one-line error, never raised; a TOML file without a `[recipe]` table (the site file beside
them) is no recipe and is passed over without a word.

A refresh lists the folders and stats each file (mtime_ns, size): only a new or changed file is read again.
Every lookup refreshes first, so an answer is never older than the files.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from farmcore.datafile import parse_toml, read_text
from farmcore.errors import BadInput, ConfigError
from farmcore.recipe import zonerecipe
from farmcore.recipe.load import recipe_from_data
from farmcore.recipe.schema import Recipe

Stamp = tuple[int, int]


def file_stamp(path: Path) -> Stamp | None:
    """(mtime_ns, size) of a file, None when it cannot be stat'ed: a change of either means read it again."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def shipped_folders() -> tuple[Path, ...]:
    """The shipped recipes' folders, one a kind (`crops`, `fish`), by name."""
    root = zonerecipe.RECIPES_DIR
    return tuple(sorted(p for p in root.iterdir() if p.is_dir())) if root.is_dir() else ()


@dataclass(frozen=True)
class RecipeEntry:
    """A recipe as read from its file, with the file's stamp at that read."""

    recipe: Recipe
    path: Path
    stamp: Stamp | None

    @property
    def kind(self) -> str:
        return self.recipe.recipe.kind

    @property
    def id(self) -> str:
        return self.recipe.recipe.id

    @property
    def version(self) -> int:
        return self.recipe.recipe.version

    @property
    def label(self) -> str:
        return self.recipe.label


@dataclass(frozen=True)
class Skipped:
    """A file in the folders that offers no recipe, and why (one line naming the file and the field)."""

    path: Path
    reason: str


_Read = RecipeEntry | ConfigError | None  # a recipe, why the file is no good one, or not a recipe at all


def _read(path: Path, *, quiet: bool) -> tuple[Stamp | None, _Read]:
    """The file's stamp (taken before reading, so a change while reading is seen next time) and what it holds;
    `quiet`: a TOML file without a [recipe] table is None rather than an error."""
    stamp = file_stamp(path)
    try:
        data = parse_toml(read_text(path), str(path))
        if quiet and "recipe" not in data:
            return stamp, None
        return stamp, RecipeEntry(recipe_from_data(data, str(path)), path, stamp)
    except ConfigError as exc:
        return stamp, exc


class RecipeStore:
    """Recipes by kind and `id@version` from `folders`, in order (default: the shipped recipes)."""

    def __init__(self, folders: Sequence[str | Path] | None = None) -> None:
        self.folders = tuple(Path(f) for f in folders) if folders is not None else shipped_folders()
        self._lock = threading.Lock()
        self._scan: dict[Path, tuple[Stamp | None, _Read]] = {}  # the folders' files, in search order
        self._other: dict[Path, tuple[Stamp | None, _Read]] = {}  # files loaded by path from elsewhere
        self._index: dict[tuple[str, str], dict[int, RecipeEntry]] = {}  # (kind, id) -> {version: entry}
        self._skipped: list[Skipped] = []

    @classmethod
    def for_site(cls, site_file: str | Path) -> RecipeStore:
        """The recipes a site's zones may run: next to the site file first, then the shipped ones."""
        return cls((Path(site_file).parent, *shipped_folders()))

    # ------------------------------------------------------------------------------------------- reading

    def refresh(self) -> bool:
        """Read new and changed files again, forget removed ones; whether anything changed."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> bool:
        scan: dict[Path, tuple[Stamp | None, _Read]] = {}
        for folder in self.folders:
            for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
                if path in scan:
                    continue  # a folder named twice
                old = self._scan.get(path)
                scan[path] = old if old is not None and old[0] == file_stamp(path) else _read(path, quiet=True)
        if scan.keys() == self._scan.keys() and all(scan[p] is self._scan[p] for p in scan):
            return False
        self._scan = scan
        self._reindex()
        return True

    def _reindex(self) -> None:
        index: dict[tuple[str, str], dict[int, RecipeEntry]] = {}
        skipped: list[Skipped] = []
        for path, (_, got) in self._scan.items():
            if isinstance(got, ConfigError):
                skipped.append(Skipped(path, str(got)))
            elif got is not None:
                versions = index.setdefault((got.kind, got.id), {})
                first = versions.setdefault(got.version, got)
                if first is not got:
                    skipped.append(Skipped(path, str(ConfigError(
                        str(path), "recipe.version", f"{got.kind} recipe {got.label} is also {first.path}, which "
                                                     "is read first; give this one a new version"))))
        self._index, self._skipped = index, skipped

    def load(self, path: str | Path) -> RecipeEntry:
        """The recipe in one file, in the folders or not (a zone's own recipe), read again only when its stamp
        changed; ConfigError naming the file and the field when it does not load."""
        path = Path(path)
        stamp = file_stamp(path)
        with self._lock:
            cached = self._scan.get(path)
            if cached is None or cached[0] != stamp or cached[1] is None:  # not scanned, changed, or no recipe
                cached = self._other.get(path)
                if cached is None or cached[0] != stamp:
                    cached = self._other[path] = _read(path, quiet=False)
        got = cached[1]
        if isinstance(got, ConfigError):
            raise got
        assert got is not None
        return got

    def zone_recipe(self, site_file: Path, where: str, zone: zonerecipe.RecipeZone) -> RecipeEntry:
        """A zone's recipe as the site file names it, checked to fit the zone (zonerecipe.load_zone_recipe), read
        through this store."""
        read: list[RecipeEntry] = []

        def load(path: Path) -> Recipe:
            read.append(self.load(path))
            return read[-1].recipe

        zonerecipe.load_zone_recipe(site_file, where, zone, load=load)
        return read[-1]

    # ------------------------------------------------------------------------------------------- lookups

    def _lookup(self, kind: str) -> dict[str, dict[int, RecipeEntry]]:
        with self._lock:
            self._refresh()
            return {rid: dict(versions) for (k, rid), versions in self._index.items() if k == kind}

    def ids(self, kind: str) -> dict[str, Path]:
        """{recipe id: file of its newest version} of the recipes a zone of `kind` may switch to."""
        return {rid: versions[max(versions)].path for rid, versions in sorted(self._lookup(kind).items())}

    def versions(self, kind: str, recipe_id: str) -> list[int]:
        """The versions of a recipe there are, oldest first."""
        return sorted(self._lookup(kind).get(recipe_id, {}))

    def entries(self, kind: str) -> list[RecipeEntry]:
        """Every recipe of `kind`, by id, oldest version first."""
        return [versions[v] for _, versions in sorted(self._lookup(kind).items()) for v in sorted(versions)]

    def get(self, kind: str, recipe_id: str, version: int | None = None) -> RecipeEntry:
        """The recipe `recipe_id@version` of `kind` (None: the newest version); BadInput saying what there is."""
        versions = self._lookup(kind).get(recipe_id)
        if not versions:
            known = ", ".join(sorted(self._lookup(kind))) or "none"
            raise BadInput(f"no {kind} recipe {recipe_id!r} (known: {known})")
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise BadInput(f"no {kind} recipe {recipe_id}@{version} (versions: "
                           f"{', '.join(str(v) for v in sorted(versions))})")
        return versions[version]

    def find(self, kind: str, ref: str) -> RecipeEntry:
        """`get` by a reference as people write it: `tomato-gb` (the newest) or `tomato-gb@3`."""
        rid, at, version = ref.partition("@")
        if not at:
            return self.get(kind, rid)
        if not version.isdigit():
            raise BadInput(f"recipe {ref!r}: the version after @ is a whole number, e.g. {rid}@2")
        return self.get(kind, rid, int(version))

    def skipped(self) -> list[Skipped]:
        """Files in the folders that offer no recipe, each with its reason."""
        with self._lock:
            self._refresh()
            return list(self._skipped)

