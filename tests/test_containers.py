"""The Dockerfile and docker-compose.yml, checked without Docker (no images can be pulled
here): they parse, they name every setting with its default, their commands are the
README's, the image's build steps work on this project, and its health check works."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from alembic.script import ScriptDirectory
from conftest import raw_connection, served
from packaging.specifiers import SpecifierSet
from sqlalchemy.engine import make_url

from lifegraph.migrate import alembic_config
from lifegraph.settings import Settings
from resolvers.context import Services

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
README = (ROOT / "README.md").read_text()

SERVICES = {"postgres", "minio", "minio-setup", "redis", "migrate", "server", "worker"}
ONE_SHOTS = {"minio-setup", "migrate"}
LIFEGRAPH_SERVICES = {"migrate", "server", "worker"}
# The settings compose sets for its own stack; every other one keeps its default.
STACK_SETTINGS = {
    "database_url",
    "s3_bucket",
    "s3_endpoint_url",
    "s3_access_key_id",
    "s3_secret_access_key",
    "redis_url",
    "environment",
    "secret_key",
    "public_url",
    "host",
    "data_dir",
}
SECRET = "a-secret-key-of-more-than-thirty-two-characters"
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::(?P<kind>[-?])(?P<text>[^}]*))?\}")


# --- docker-compose.yml -------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` as with nothing set, ``${NAME:?error}`` (a value the
    operator must give) as given ``LIFEGRAPH_SECRET_KEY``; a bare ``${NAME}`` is refused."""

    def resolve(match: re.Match[str]) -> str:
        if match["kind"] == "-":
            return match["text"]
        assert match["kind"] == "?", f"{match[0]} has no default: write ${{NAME:-default}}"
        assert match["name"] == "LIFEGRAPH_SECRET_KEY", f"{match[0]}: only the secret is required"
        return SECRET

    return INTERPOLATION.sub(resolve, value)


def compose_environment() -> dict[str, str]:
    """The lifegraph services' environment, interpolated."""
    environment = compose()["x-lifegraph-environment"]
    return {name: interpolate(value) for name, value in environment.items()}


def env_names(field: str) -> set[str]:
    """The variables that set a field: its aliases, or the prefixed name."""
    alias = Settings.model_fields[field].validation_alias
    if alias is None:
        return {f"{Settings.model_config['env_prefix']}{field}".upper()}
    choices = getattr(alias, "choices", [alias])
    return {str(choice).upper() for choice in choices}


def settings_from(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> Settings:
    for name in list(os.environ):
        if name.startswith("LIFEGRAPH_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_compose_has_the_stack() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert ("restart" in service) == (name not in ONE_SHOTS), name
    lifegraph = {name: services[name] for name in LIFEGRAPH_SERVICES}
    assert {service["build"] for service in lifegraph.values()} == {"."}
    assert len({service["image"] for service in lifegraph.values()}) == 1
    for name, service in lifegraph.items():
        assert service["environment"] == compose()["x-lifegraph-environment"], name
        # The image's health check asks the HTTP server: only `serve` has one.
        assert ("healthcheck" in service) == (name != "server"), name
    for name in SERVICES - LIFEGRAPH_SERVICES - ONE_SHOTS:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_the_server_and_the_worker_wait_for_the_stack() -> None:
    services = compose()["services"]
    for name in ("server", "worker"):
        wanted = services[name]["depends_on"]
        assert {one: wanted[one]["condition"] for one in wanted} == {
            "migrate": "service_completed_successfully",
            "minio-setup": "service_completed_successfully",
            "postgres": "service_healthy",
            "minio": "service_healthy",
            "redis": "service_healthy",
        }, name
        # Compose's default of 10 s would kill a draining process.
        grace = float(services[name]["stop_grace_period"].removesuffix("s"))
        assert grace > Settings.model_fields["shutdown_grace_seconds"].default, name


def test_minio_setup_creates_the_bucket_the_app_uses() -> None:
    setup = compose()["services"]["minio-setup"]
    (alias_variable,) = setup["environment"]
    alias = alias_variable.removeprefix("MC_HOST_")
    assert setup["command"][0] == "mb"
    assert setup["command"][-1] == f"{alias}/{compose_environment()['LIFEGRAPH_S3_BUCKET']}"
    endpoint = urlsplit(interpolate(setup["environment"][alias_variable]))
    environment = compose_environment()
    assert endpoint.username == environment["LIFEGRAPH_S3_ACCESS_KEY_ID"]
    assert endpoint.password == environment["LIFEGRAPH_S3_SECRET_ACCESS_KEY"]
    assert f"http://{endpoint.hostname}:{endpoint.port}" == environment["LIFEGRAPH_S3_ENDPOINT_URL"]


def test_the_database_url_is_the_postgres_service() -> None:
    postgres = compose()["services"]["postgres"]["environment"]
    url = make_url(compose_environment()["DATABASE_URL"])
    assert (url.host, url.port) == ("postgres", 5432)
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == interpolate(postgres["POSTGRES_PASSWORD"])
    assert url.database == postgres["POSTGRES_DB"]


def test_compose_names_every_setting() -> None:
    named = set(compose()["x-lifegraph-environment"])
    missing = [field for field in Settings.model_fields if not env_names(field) & named]
    assert not missing, f"add to x-lifegraph-environment in docker-compose.yml: {missing}"


def test_compose_names_only_settings() -> None:
    known = set().union(*(env_names(field) for field in Settings.model_fields))
    unknown = set(compose()["x-lifegraph-environment"]) - known
    assert not unknown, f"not settings of lifegraph.settings.Settings: {sorted(unknown)}"


def test_compose_values_are_strings() -> None:
    """YAML would read an unquoted true, on or 30 as something else than the app does."""
    for name, value in compose()["x-lifegraph-environment"].items():
        assert isinstance(value, str), name


def test_compose_gives_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = settings_from(monkeypatch, {})
    stack = settings_from(monkeypatch, compose_environment())
    differing = {
        field
        for field in Settings.model_fields
        if getattr(stack, field) != getattr(defaults, field)
    }
    assert differing == STACK_SETTINGS


def test_the_readme_documents_every_setting() -> None:
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", row)
        full = [name for name in names if not name.startswith("_")]
        documented.update(full)
        # `LIFEGRAPH_PASSWORD_MEMORY_KIB`, `_TIME_COST`: the short one keeps a prefix.
        for short in (name for name in names if name.startswith("_")):
            for name in full:
                parts = name.split("_")
                documented.update("_".join(parts[:i]) + short for i in range(1, len(parts)))
    missing = [field for field in Settings.model_fields if not env_names(field) & documented]
    assert not missing, f"add to the README's Configuration table: {missing}"


# --- Dockerfile ---------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int

    def exec_form(self) -> list[str]:
        value = json.loads(self.arguments)
        assert isinstance(value, list), self
        return [str(item) for item in value]


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, continued lines joined."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, arguments = (pending + line.strip()).partition(" ")
        pending = ""
        stage += keyword.upper() == "FROM"
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    assert not pending, "the Dockerfile ends on a continued line"
    return instructions


def final_stage() -> list[Instruction]:
    instructions = dockerfile()
    return [one for one in instructions if one.stage == instructions[-1].stage]


def builder_stage() -> list[Instruction]:
    return [one for one in dockerfile() if one.stage == 0]


def image_environment() -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in final_stage():
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


def test_both_stages_are_the_python_the_project_requires() -> None:
    images = [one.arguments.split()[0] for one in dockerfile() if one.keyword == "FROM"]
    assert len(images) == 2
    (image,) = set(images)
    match = re.fullmatch(r"python:(\d+\.\d+)-slim", image)
    assert match is not None, images
    required = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert match[1] in required
    # The oldest Python allowed, the one mypy and ruff check against.
    assert match[1] == PYPROJECT["tool"]["mypy"]["python_version"]


def test_the_image_runs_lifegraph_as_a_user() -> None:
    final = final_stage()
    keywords = [one.keyword for one in final]
    user = final[max(i for i, keyword in enumerate(keywords) if keyword == "USER")].arguments
    assert user not in {"root", "0"}
    assert any(
        one.keyword == "RUN" and "useradd" in one.arguments and user in one.arguments
        for one in final
    )
    (entrypoint,) = (one.exec_form() for one in final if one.keyword == "ENTRYPOINT")
    assert entrypoint == ["lifegraph"]
    assert "lifegraph" in PYPROJECT["project"]["scripts"]
    (cmd,) = (one.exec_form() for one in final if one.keyword == "CMD")
    assert cmd == ["serve"]
    (exposed,) = (one.arguments for one in final if one.keyword == "EXPOSE")
    assert exposed == image_environment()["LIFEGRAPH_PORT"]
    assert compose()["services"]["server"]["ports"] == [f"{exposed}:{exposed}"]


def test_the_image_environment_is_the_compose_one() -> None:
    environment = compose_environment()
    for name, value in image_environment().items():
        if name.startswith("LIFEGRAPH_"):
            assert environment[name] == value, name


def test_the_builder_copies_what_the_wheel_is_built_from() -> None:
    copied = copied_paths()
    packages = {
        name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert {"pyproject.toml", PYPROJECT["project"]["readme"]} | packages == set(copied)
    for path in copied:
        assert (ROOT / path).exists(), path


def copied_paths() -> list[str]:
    paths: list[str] = []
    for instruction in builder_stage():
        if instruction.keyword == "COPY":
            *sources, _ = instruction.arguments.split()
            paths.extend(source.rstrip("/") for source in sources)
    return paths


def test_the_image_installs_as_the_readme_does() -> None:
    """The README's `pip install -e .` is a checkout's; the image installs the same
    project, not editable."""
    run_block = README.split("\n## Run\n", 1)[1].split("```", 2)[1]
    (readme_install,) = re.findall(r"pip install ([^&\n]+)", run_block)
    wanted = [word for word in shlex.split(readme_install) if word not in {"-e", "--editable"}]
    installs = [
        shlex.split(one.arguments)
        for one in builder_stage()
        if one.keyword == "RUN" and "pip install" in one.arguments
    ]
    assert installs == [["pip", "install", *wanted]]


def test_the_containers_run_the_readme_commands() -> None:
    """Every command the image and compose run is in the README's table, with options it
    lists there."""
    table = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    synopses = {match[1]: match[0] for match in re.finditer(r"`lifegraph ([a-z-]+)[^`]*`", table)}
    (cmd,) = (one.exec_form() for one in final_stage() if one.keyword == "CMD")
    runs = [cmd]
    runs += [
        service["command"]
        for name, service in compose()["services"].items()
        if name in LIFEGRAPH_SERVICES
    ]
    assert {run[0] for run in runs} == {"serve", "migrate", "worker"}
    for run in runs:
        assert run[0] in synopses, run
        for option in (word for word in run if word.startswith("--")):
            assert f"[{option}" in synopses[run[0]], (run, synopses[run[0]])


def test_the_ocr_models_load_as_the_image_build_loads_them() -> None:
    """The build step that loads the local OCR engine, run here: it passes only with the
    models inside the installed packages, never fetching one."""
    (step,) = (
        one.arguments
        for one in final_stage()
        if one.keyword == "RUN" and "LocalOcrEngine" in one.arguments
    )
    argv = shlex.split(step)
    assert argv[0] == "python"
    subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, check=True, timeout=300)


def healthcheck() -> list[str]:
    (instruction,) = (one for one in final_stage() if one.keyword == "HEALTHCHECK")
    options, _, command = instruction.arguments.partition("CMD ")
    assert all(word.startswith("--") for word in options.split())
    return Instruction("CMD", command, instruction.stage).exec_form()


async def run_healthcheck(port: int) -> int:
    command = healthcheck()
    assert command[0] == "python"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={**os.environ, "LIFEGRAPH_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


async def test_the_healthcheck_asks_readyz(services: Services) -> None:
    assert "/readyz" in " ".join(healthcheck())
    async with served(services) as address:
        port = int(address.rsplit(":", 1)[1])
        assert await run_healthcheck(port) == 0
    # Nothing listens there any more.
    assert await run_healthcheck(port) != 0


# --- the wheel the image installs ---------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built, as the builder stage builds it, from only the files it copies."""
    context = tmp_path_factory.mktemp("context")
    for path in copied_paths():
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, context / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / path)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(context),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
        ],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("lifegraph-*.whl")
    return built


def test_the_wheel_holds_what_the_app_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [
        name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    wanted = {
        path.relative_to(ROOT).as_posix()
        for package in packages
        for path in (ROOT / package).rglob("*.py")
    }
    wanted |= {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "lifegraph/static").rglob("*")
        if path.is_file()
    }
    assert wanted <= names, sorted(wanted - names)


@pytest.fixture
def installed(wheel: Path, tmp_path: Path) -> Path:
    """The wheel installed on its own, as the image's virtual environment holds it."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    return target


async def test_the_installed_wheel_migrates_a_database(
    installed: Path, database_url: str, tmp_path: Path
) -> None:
    """`lifegraph migrate` from the wheel, away from the checkout, on an empty database."""
    name = f"lifegraph_wheel_{uuid.uuid4().hex[:12]}"
    async with raw_connection(database_url) as connection:
        await connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        # -S: without the .pth files, so the checkout's editable install stays out of it;
        # the dependencies come from this environment's site-packages.
        paths = [str(installed), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
        script = (
            "import lifegraph, sys; print(lifegraph.__file__);"
            "from lifegraph.cli import main; sys.exit(main(['migrate']))"
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-S", "-c", script],
            env={
                "PATH": os.environ["PATH"],
                "PYTHONPATH": os.pathsep.join(paths),
                "DATABASE_URL": url,
            },
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert Path(done.stdout.splitlines()[0]).is_relative_to(installed)
        async with raw_connection(url) as connection:
            applied = await connection.fetchval("SELECT version_num FROM alembic_version")
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert applied == head
    finally:
        async with raw_connection(database_url) as connection:
            await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
