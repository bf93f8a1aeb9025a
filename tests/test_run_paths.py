"""The doors a reader opens: a Colab notebook that installs this release of the package and
reads as prose, a GPU set-up whose commands work, a package name that is ours, and a setup
cell that survives a failed download. The notebook executed in a fresh Colab-like environment
is `test_a_notebook_runs_in_a_fresh_colab_like_environment` (marked `book`: it runs last)."""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
import torch
from packaging.requirements import Requirement

from fastgen_book.book import colab
from fastgen_book.book.glue import GLUED, MISSING, fill, glue
from fastgen_book.book.pages import lesson_pages
from fastgen_book.book.release import DISTRIBUTION, Release, release, version
from fastgen_book.sd import hub

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "fastgen_book"
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
#: the book's tooling: modules under it may import what the `book` extra installs
BOOK_TOOLING = PACKAGE / "book"
#: runtime dependencies that no module imports, and why a reader still needs them
NEEDED_UNIMPORTED = {
    "nbformat": "plotly shows a figure in a notebook kernel through it (pio.show raises "
    "'Mime type rendering requires nbformat' without it)",
}


def _page(stem: str) -> Path:
    return next(p for p in lesson_pages() if p.stem == stem)


# ---- one setting: the repository, pinned to the release --------------------------------------


def test_the_repository_setting_drives_installs_colab_links_and_the_button(tmp_path):
    """Change `repository.url` in a copy of _config.yml: the notebooks' install cells, the Colab
    links and Jupyter Book's repository button all follow, each pinned to the version's tag."""
    import yaml
    from jupyter_book.config import get_final_config

    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    config["repository"]["url"] = "https://github.com/someone/their-fork"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    moved = release(tmp_path)
    tag = f"v{PROJECT['version']}"
    assert moved == Release("https://github.com/someone/their-fork", PROJECT["version"])
    for page in lesson_pages():
        setup = colab.page_to_notebook(page, moved).cells[0].source
        assert f'"fastgen-book @ git+https://github.com/someone/their-fork@{tag}"' in setup
        assert "@main" not in setup
    assert moved.colab_url("notebooks/x.ipynb") == (
        f"https://colab.research.google.com/github/someone/their-fork/blob/{tag}/notebooks/x.ipynb"
    )
    # the repository button and the links directive read the same theme option
    sphinx_config, _ = get_final_config(
        user_yaml=tmp_path / "_config.yml", cli_config={"latex_individualpages": False}
    )
    assert sphinx_config["html_theme_options"]["repository_url"] == moved.repository


def test_a_release_installs_from_a_local_repository_and_refuses_a_relative_path(tmp_path):
    local = Release(str(tmp_path / "fastgen"), "1.2.3")
    url = f"file://localhost{(tmp_path / 'fastgen').as_posix()}"
    assert local.requirement == f"fastgen-book @ git+{url}@v1.2.3"
    assert Requirement(local.requirement).name == DISTRIBUTION
    with pytest.raises(ValueError, match="absolute path"):
        Release("fastgen", "1.2.3").requirement  # noqa: B018
    with pytest.raises(ValueError, match="GitHub"):
        local.colab_url("notebooks/x.ipynb")


def test_the_committed_notebooks_install_this_release():
    assert not colab.stale(), "regenerate with `python -m fastgen_book notebooks`"
    for page in lesson_pages():
        setup = nbformat.read(colab.notebook_path(page), as_version=4).cells[0].source
        assert release().requirement in setup


# ---- a name that is ours, dependencies that are used -----------------------------------------


def test_the_distribution_and_its_import_package_are_named_ours():
    """`fastgen` on PyPI (module `fastgen`) is another project: ours is fastgen-book, imported
    as fastgen_book, with a console script of the same name."""
    assert PROJECT["name"] == DISTRIBUTION == "fastgen-book"
    assert (PACKAGE / "__init__.py").exists() and not (REPO_ROOT / "fastgen").exists()
    assert PROJECT["scripts"] == {"fastgen-book": "fastgen_book.cli:main"}
    assert version() == PROJECT["version"]


def _third_party_imports(files) -> dict[str, set[str]]:
    """top-level module -> files importing it (anywhere in the file), stdlib and ours aside."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "fastgen_book":
                    found.setdefault(top, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def test_every_runtime_dependency_is_imported_and_every_import_is_declared():
    """A runtime dependency nothing imports costs a Colab reader an upgrade and a restart
    (matplotlib did); an import nothing declares fails on a fresh runtime. The book tooling
    (`fastgen_book/book`) may import the `book` extra too."""
    runtime = [p for p in PACKAGE.rglob("*.py") if BOOK_TOOLING not in p.parents]
    imported = _third_party_imports(runtime)
    provides = packages_distributions()
    declared = {Requirement(r).name.lower().replace("_", "-") for r in PROJECT["dependencies"]}
    by_dist: dict[str, set[str]] = {}
    for module in imported:
        for dist in provides.get(module, [module]):
            by_dist.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    unused = declared - set(by_dist) - set(NEEDED_UNIMPORTED)
    assert not unused, f"runtime dependencies no module outside fastgen_book/book imports: {unused}"
    undeclared = {d: m for d, m in by_dist.items() if d not in declared}
    assert not undeclared, f"imported but not a runtime dependency: {undeclared}"


def test_runtime_dependencies_leave_colab_pins_alone():
    runtime = " ".join(PROJECT["dependencies"])
    for pinned in ("ipykernel", "ipython", "pyzmq", "jupyter-book", "myst-nb", "sphinx"):
        assert pinned not in runtime, pinned
    book = PROJECT["optional-dependencies"]["book"]
    assert any(d.startswith("jupyter-book") for d in book)


# ---- the CUDA recipe of the README ----------------------------------------------------------


def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-n", "-B", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )


def test_torch_index_reaches_pip_as_its_own_option():
    """README: `make book TORCH_INDEX=<a CUDA build's index>`. The torch install line pip gets
    must be a requirement and an --index-url, not one quoted string ("Invalid requirement")."""
    index = "https://download.pytorch.org/whl/cu126"
    done = _make(".venv/.installed", f"TORCH_INDEX={index}")
    assert done.returncode == 0, done.stderr
    line = next(s for s in done.stdout.splitlines() if "pip install" in s and "torch==" in s)
    argv = shlex.split(line)
    at = argv.index("install")
    assert argv[at + 1 :] == ["--quiet", "torch==2.13.0", "--index-url", index]
    Requirement(argv[at + 2])  # a valid requirement on its own
    plain = _make(".venv/.installed")
    line = next(s for s in plain.stdout.splitlines() if "pip install" in s and "torch==" in s)
    assert "--index-url" not in line
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"TORCH_INDEX={index}" in readme


def test_a_torch_spec_with_an_option_is_refused_in_one_line():
    done = _make("book", "TORCH_SPEC=torch==2.13.0 --index-url https://example.org/whl")
    assert done.returncode != 0
    assert "TORCH_INDEX" in done.stderr and len(done.stderr.strip().splitlines()) == 1


# ---- the setup cell -------------------------------------------------------------------------


def test_only_a_page_with_stable_diffusion_cells_downloads_the_gpu_tier():
    first = colab.page_to_notebook(_page("consistency-models")).cells[0].source
    assert "prepare_gpu_tier" not in first and "fetch" not in first
    for stem in ("latent-consistency-and-turbo", "the-speed-landscape"):
        setup = colab.page_to_notebook(_page(stem)).cells[0].source
        assert "prepare_gpu_tier()" in setup


def test_a_failed_download_is_one_line_and_the_lesson_goes_on(monkeypatch):
    """A 429, a renamed file or a full disk in the setup cell must not stop "Run all"."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def fail(name, progress=print):
        raise OSError("429 Client Error: Too Many Requests for url: https://huggingface.co/api")

    monkeypatch.setattr(hub, "fetch", fail)
    said = []
    assert hub.prepare_gpu_tier(progress=said.append) is False
    assert len(said) == 1 and "\n" not in said[0]
    assert "429" in said[0] and "tiny-sd" in said[0]


def test_without_a_gpu_the_setup_downloads_nothing(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hub, "fetch", lambda *a, **k: pytest.fail("fetched without a GPU"))
    said = []
    assert hub.prepare_gpu_tier(progress=said.append) is False
    assert len(said) == 1 and "tiny-sd" in said[0]


# ---- notebooks that read as prose -----------------------------------------------------------


def test_notebooks_show_no_myst_syntax_and_cite_in_plain_text():
    for page in lesson_pages():
        nb = colab.page_to_notebook(page)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                assert not colab.MYST_LEFTOVER.search(cell.source), cell.source[:200]
                assert "{{" not in cell.source, cell.source[:200]
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "glue import show" not in code
    text = "\n".join(
        c.source for c in colab.page_to_notebook(_page("latent-consistency-and-turbo")).cells
    )
    assert "(Luo et al., 2023a)" in text and "(Sauer et al., 2023)" in text


def test_citations_read_as_author_and_year_and_each_notebook_lists_its_references():
    assert colab.cite("p", "song2023consistency") == "(Song et al., 2023)"
    assert colab.cite("t", "song2024improved") == "Song and Dhariwal (2024)"
    # two works that would cite alike are told apart, in the bibliography's order
    assert colab.cite("p", "luo2023lcm, luo2023lcmlora") == (
        "(Luo et al., 2023a; Luo et al., 2023b)"
    )
    nb = colab.page_to_notebook(_page("latent-consistency-and-turbo"))
    refs = nb.cells[-1].source
    assert refs.startswith("## References") and "Luo et al. (2023b). [LCM-LoRA" in refs


def test_solutions_are_folded_until_the_reader_opens_them():
    """A solution's prose sits in <details>, its code in a Colab form cell (code hidden)."""
    page = _page("the-speed-landscape")
    text = page.read_text()
    nb = colab.page_to_notebook(page)
    folded = [c for c in nb.cells if c.source.startswith(colab.SOLUTION_TITLE)]
    assert len(folded) == text.count("{solution-start}")  # each of its solutions has code
    prose = [c.source for c in nb.cells if "<summary>Solution</summary>" in c.source]
    assert prose and all(s.rstrip().endswith("</details>") for s in prose)
    exercises = [c.source for c in nb.cells if c.source.startswith("#### Exercise")]
    assert exercises and not any("Solution" in s for s in exercises)


def test_links_between_lessons_open_the_next_notebook_in_colab():
    nb = colab.page_to_notebook(_page("consistency-models"))
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    link = release().colab_url("notebooks/latent-consistency-and-turbo.ipynb")
    assert f"]({link})" in text


def test_a_code_fence_with_a_blank_line_stays_one_block_and_labels_are_found_anywhere():
    ctx = colab._context("```{exercise} Try\n:class: x\n:label: ex-b\n\nDo.\n```\n")
    assert ctx.exercises == {"ex-b": (1, "Try")}
    fenced = "```python\nx = 1\n\ny = {glue:text}`t_y`\n```"
    cells = colab.markdown_cells(f"Code:\n\n{fenced}\n", ctx)
    assert [c.cell_type for c in cells] == ["markdown", "code"]
    assert cells[1].source.count("```") == 2  # one block: the fence is not cut at its blank line
    with pytest.raises(ValueError, match="may not contain"):
        colab.notebook_markdown("a {{literal}} brace pair")


def test_directives_become_notebook_markdown():
    page = (
        "```{admonition} Note this\n:class: tip\nBody {cite:p}`sauer2023add`.\n```\n\n"
        "```{dropdown} Answers\n1. One.\n```\n\n"
        "```{exercise} Try it\n:label: ex-a\n\nDo it.\n```\n\nSee {ref}`ex-a`."
    )
    text = colab.notebook_markdown(page)
    assert "> **Note this**" in text and "> Body (Sauer et al., 2023)." in text
    assert "<details>\n<summary>Answers</summary>" in text and "1. One." in text
    assert "#### Exercise 1: Try it" in text and "See Exercise 1 (Try it)." in text
    assert not colab.MYST_LEFTOVER.search(text)


def test_a_glued_paragraph_becomes_a_cell_that_prints_it_with_the_numbers():
    ctx = colab.PageContext({})
    cells = colab.markdown_cells(
        "Plain.\n\nIt scored {glue:text}`t_score:.1f` with {glue:text}`t_name`.", ctx
    )
    assert [c.cell_type for c in cells] == ["markdown", "code"]
    assert "{{t_score:.1f}}" in cells[1].source and "paragraph(" in cells[1].source
    glue("t_score", 96.44, display=False)
    glue("t_name", "LCM-LoRA", display=False)
    assert fill("It scored {{t_score:.1f}} with {{t_name}}.") == "It scored 96.4 with LCM-LoRA."
    GLUED.pop("t_score")
    assert fill("{{t_score}}") == MISSING


def test_lesson_code_imports_without_the_book_tooling():
    """A Colab runtime has the package's runtime dependencies only: every module a lesson
    imports works without myst-nb, Sphinx or jupytext, and a paragraph still prints."""
    import re

    modules = sorted(
        {
            m
            for p in lesson_pages()
            for m in re.findall(r"^from (fastgen_book[\w.]*) import", p.read_text(), re.M)
        }
    )
    code = (
        "import sys\n"
        "for name in ('myst_nb', 'sphinx', 'jupytext', 'jupyter_book', 'jupyter_cache'):\n"
        "    sys.modules[name] = None\n"
        + "".join(f"import {m}\n" for m in modules)
        + "from fastgen_book.book.glue import glue, paragraph\n"
        "glue('x', 1.5, display=False)\nparagraph('x is {{x}}, y is {{y}}.')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "x is 1.5, y is (not computed yet)."


# ---- reproducible noise, keyed on the hardware ----------------------------------------------


def test_generation_draws_its_noise_on_the_cpu_whatever_the_device():
    """diffusers: "always use a CPU Generator" for the same noise on any GPU."""
    from types import SimpleNamespace

    from fastgen_book.sd import pipeline as sd

    seen = []

    def pipe(prompts, generator, **kwargs):
        seen.append(generator.device)
        return SimpleNamespace(images=torch.zeros(len(prompts), 3, 8, 8))

    sd.run_batches(SimpleNamespace(device="cuda", pipe=pipe), [["a"], ["b"]], 4, 1.0, seed=3)
    assert seen == [torch.device("cpu")] * 2


def test_an_fp16_overflow_raises_instead_of_scoring_black_images():
    from types import SimpleNamespace

    from fastgen_book.sd import pipeline as sd

    def pipe(prompts, generator, **kwargs):
        images = torch.zeros(len(prompts), 3, 8, 8)
        images[1] = float("nan")
        return SimpleNamespace(images=images)

    unet = SimpleNamespace(dtype=torch.float16)
    with pytest.raises(FloatingPointError, match=r"NaN.*\['b'\]"):
        sd.run_batches(_Loaded(pipe, unet), [["a", "b"]], 4, 1.0, seed=0)


class _Loaded:
    """Just what run_batches reads of a loaded pipeline: a callable pipe with a UNet."""

    def __init__(self, pipe, unet):
        self.device, self.model_id = "cuda", "m"
        self.pipe = pipe
        self.pipe.unet = unet  # a function takes attributes as a pipeline has components


def test_a_stored_gpu_measurement_is_keyed_on_the_gpu_model(monkeypatch):
    """The same study on an H200 and on a T4 is two measurements (fp16 kernels differ)."""
    from types import SimpleNamespace

    from fastgen_book.results import Study, key
    from fastgen_book.sd.device import hardware
    from fastgen_book.sd.identity import loaded_identity

    assert hardware("cpu") == "cpu"
    unet = SimpleNamespace(dtype=torch.float16)
    loaded = SimpleNamespace(
        tier="tiny",
        model_id="m",
        variant="base",
        device="cuda",
        pipe=SimpleNamespace(unet=unet),
        fused={},
        adapters={},
    )
    study = Study("probe", run=lambda loaded: {}, identity=loaded_identity)
    keys = {}
    for gpu in ("NVIDIA H200", "Tesla T4"):
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None, g=gpu: g)
        assert loaded_identity(loaded)["hardware"] == gpu
        keys[gpu] = key(study, loaded_identity(loaded))
    assert keys["NVIDIA H200"] != keys["Tesla T4"]


def test_the_standin_cache_holds_the_listing_a_real_download_leaves(standin_cache, gpu_standin):
    """snapshot_download writes `trees/<commit>.json` (every file of the repository) and
    diffusers reads it offline to decide which files must exist; the stand-in has it, with the
    published repositories' files that `fetch` does not download."""
    from huggingface_hub import get_cached_repo_tree

    listing = get_cached_repo_tree(hub.SD15.repo_id, cache_dir=standin_cache)
    names = {f.path for f in listing}
    assert set(hub.SD15.files) < names
    assert {"v1-5-pruned-emaonly.safetensors", "safety_checker/model.fp16.safetensors"} <= names
    assert not (hub.snapshot(hub.SD15) / "v1-5-pruned-emaonly.safetensors").exists()
    for repo in hub.GPU_TIER:
        assert get_cached_repo_tree(repo.repo_id, cache_dir=standin_cache)


# ---- the notebook, run as a Colab reader runs it --------------------------------------------


def _working_tree_repository(dest: Path) -> Path:
    """A git repository holding this checkout's files (committed or not, ignored ones aside),
    tagged with this release: what `repository.url` names once published."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        src = REPO_ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "-C", str(dest)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "release"], check=True)
    subprocess.run([*git, "tag", f"v{version()}"], check=True)
    return dest


def _requirement_closure(names: list[str]) -> list:
    """The installed distributions that `names` (requirement strings) need, transitively:
    each requirement whose marker holds here, without extras, as this environment has them."""
    from importlib.metadata import PackageNotFoundError, distribution

    found, todo = {}, [Requirement(n) for n in names]
    while todo:
        req = todo.pop()
        key = req.name.lower().replace("_", "-")
        if key in found or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            continue  # an optional dependency this environment does not have either
        found[key] = dist
        todo.extend(Requirement(r) for r in dist.requires or [])
    return list(found.values())


def _colab_like_environment(env: Path) -> Path:
    """A fresh virtual environment holding the package's runtime dependencies, pip and a kernel
    (ipykernel) and nothing else: no book tooling, as a Colab runtime before the notebook's
    install cell. The distributions are this environment's, linked in rather than downloaded
    and unpacked again (the same files, a minute less)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    linked = set()
    for dist in _requirement_closure([*PROJECT["dependencies"], "ipykernel", "pip"]):
        for file in dist.files or []:
            top = file.parts[0]
            if top == ".." or top in linked or top == "__pycache__":
                continue
            source = Path(dist.locate_file(top))
            if source.exists():
                (site / top).symlink_to(source)
                linked.add(top)
    assert "myst_nb" not in linked and "fastgen_book" not in linked
    return env / "bin" / "python"


@pytest.mark.book
def test_a_notebook_runs_in_a_fresh_colab_like_environment(tmp_path, monkeypatch):
    """Lesson 1's notebook, top to bottom on the CPU, in an environment that has only the
    runtime dependencies and a kernel: its install cell (run as in Colab) installs the package
    from the release's repository, here a local one, and every cell runs without error."""
    from nbclient import NotebookClient

    repo = _working_tree_repository(tmp_path / "repo")
    python = _colab_like_environment(tmp_path / "env")
    absent = subprocess.run([python, "-c", "import myst_nb"], capture_output=True)
    assert absent.returncode != 0, "the Colab-like environment must not have the book tooling"
    prefix = tmp_path / "kernels"
    subprocess.run(
        [python, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "colab-like"],
        check=True,
        capture_output=True,
    )
    # Colab's kernel imports google.colab before the first cell: a stand-in module, imported
    # by an IPython startup file, makes `"google.colab" in sys.modules` true here too
    fake = tmp_path / "fake" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GOMP_SPINCOUNT", "10000")
    # the toy models this checkout already trained: same code, same keys
    monkeypatch.setenv("FASTGEN_MODEL_DIR", str(REPO_ROOT / "_build" / "models"))

    nb = colab.page_to_notebook(_page("consistency-models"), Release(str(repo), version()))
    assert nb.cells[0].source.count(f"git+file://localhost{repo}@v{version()}") == 1
    client = NotebookClient(nb, kernel_name="colab-like", timeout=600, allow_errors=True)
    client.execute(cwd=str(tmp_path))
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    setup = [o.get("text", "") for o in nb.cells[0].get("outputs", [])]
    assert not errors, f"setup cell said: {setup}; errors: {errors[:1]}"
    site = subprocess.run(
        [python, "-c", "import fastgen_book; print(fastgen_book.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert str(tmp_path / "env") in site, site  # installed from the release, not this checkout
    direct = next((tmp_path / "env").rglob("fastgen_book-*.dist-info/direct_url.json"))
    origin = json.loads(direct.read_text())
    assert origin["url"] == f"file://localhost{repo}"
    assert origin["vcs_info"]["requested_revision"] == f"v{version()}"
    shown = [
        o["data"]["text/markdown"]
        for c in nb.cells
        if "measured-paragraph" in c.metadata.get("tags", [])
        for o in c.outputs
        if "text/markdown" in o.get("data", {})
    ]
    unfilled = [s for s in shown if "{{" in s or MISSING in s]
    assert shown and not unfilled, unfilled


def test_a_paragraph_quoting_a_later_cell_is_redrawn_when_that_cell_has_run(monkeypatch):
    """Pages may quote a number before the cell that computes it (lesson 1 does): the notebook
    shows the paragraph where the page has it and fills the number in once it exists."""
    from IPython.display import Markdown

    from fastgen_book.book import glue as glue_mod

    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj.data)

    def display(obj, display_id=False):
        shown.append(obj.data)
        return Handle()

    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", display)
    assert Markdown  # the real class renders the text
    GLUED.pop("t_later", None)
    glue_mod.paragraph("It took {{t_later}} steps.")
    assert shown == [f"It took {MISSING} steps."]
    glue("t_later", 64, display=False)
    assert updates == ["It took 64 steps."]
    glue("t_later", 65, display=False)  # the cell that computes it, run again
    assert updates[-1] == "It took 65 steps."
    glue_mod._SHOWN.clear()
