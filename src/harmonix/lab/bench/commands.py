"""``harmonix bench …``: each benchmark as a command, its figures as one JSON object or as tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.table import Table

from harmonix.cli.shared import emit_json, harmonix_command, run, stderr, stdout
from harmonix.config import Config
from harmonix.errors import InvalidArgument
from harmonix.organisms.base import plain
from harmonix.progress import terminal_progress


@click.group("bench")
def bench_group() -> None:
    """Benchmarks: ratios measured side by side in one run, medians of several repeats."""


def io_options(delay_s: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--io`` (Prose and Artist on the benchmark's loopback delay server) and ``--io-delay``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function = click.option("--io-delay", type=click.FloatRange(min=0), default=delay_s, show_default=True,
                                help="Seconds, with --io.")(function)
        return click.option("--io", "io", is_flag=True,
                            help="Prose and Artist on a loopback server that answers after a delay.")(function)

    return decorate


def refuse_llm_with_io(config: Config, io: bool) -> None:
    """``--io`` replaces the LLM: an LLM given as well is a contradiction."""
    if io and (config.prose_llm.url or config.prose_llm.model or config.artist_llm):
        raise InvalidArgument("--io puts Prose and Artist on the benchmark's own loopback server: "
                              "give no --model or --llm-url with it")


@bench_group.command("field")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--ingests", type=click.IntRange(min=1), default=40, show_default=True, help="Ingests per repeat.")
@harmonix_command()
def bench_field(config: Config, as_json: bool, repeats: int, ingests: int) -> None:
    """What the field discipline costs against plain sqlite3 (see harmonix.lab.bench.field), or with --database
    postgresql://… against the plain driver on that database (see harmonix.lab.bench.field_postgres)."""
    from harmonix.field.store import POSTGRES_SCHEMES
    from harmonix.lab.bench.field import run_field_bench
    from harmonix.lab.bench.field_postgres import run_postgres_field_bench

    url = config.store_url
    result: Any
    if url.startswith(POSTGRES_SCHEMES):
        result = run(run_postgres_field_bench(url, repeats=repeats, ingests=ingests,
                                              progress=terminal_progress(stderr)))
    else:
        result = run(run_field_bench(repeats=repeats, ingests=ingests, progress=terminal_progress(stderr)))
    figures = plain(result)
    show_figures(as_json, figures, lambda: print_table(f"harmonix bench field: medians of {repeats} repeats", figures))


@bench_group.command("haiku")
@click.option("--turns", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--sentences", type=click.IntRange(min=1), default=500, show_default=True,
              help="markovify sentences to time.")
@harmonix_command()
def bench_haiku(config: Config, as_json: bool, turns: int, sentences: int) -> None:
    """HAiKU's compose time next to markovify's on the same text (see harmonix.lab.bench.haiku)."""
    from harmonix.lab.bench.haiku import run_haiku_bench

    result = run_haiku_bench(turns=turns, sentences=sentences, progress=terminal_progress(stderr))
    report = {**plain(result), "target_met": result.target_met}
    show_figures(as_json, report, lambda: print_table(f"harmonix bench haiku: medians over {turns} turns", report))


@bench_group.command("sonnet")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--sonnets", type=click.IntRange(min=1), default=5, show_default=True)
@harmonix_command()
def bench_sonnet(config: Config, as_json: bool, repeats: int, sonnets: int) -> None:
    """NumPy vs torch on the same weights, batched sampling, seconds per sonnet (see harmonix.lab.bench.sonnet)."""
    from harmonix.lab.bench.sonnet import run_sonnet_bench

    result = plain(run_sonnet_bench(repeats=repeats, sonnets=sonnets, progress=terminal_progress(stderr)))
    show_figures(as_json, result, lambda: print_table(f"harmonix bench sonnet: medians of {repeats} repeats", result))


@bench_group.command("llm")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True)
@harmonix_command(llm=True)
def bench_llm(config: Config, as_json: bool, repeats: int, threads: int, parallel: int) -> None:
    """A GGUF model in-process (the embedded one, or --model): tokens/s, batching speedup, engine overhead (see
    harmonix.lab.bench.llm)."""
    from harmonix.lab.bench.llm import run_llm_bench

    llm = config.llm("prose")
    if llm.url is not None:
        raise InvalidArgument(f"bench llm measures a model in this process against llama.cpp itself; it cannot "
                              f"measure the server {llm.url} (give --model PATH, or none for the embedded model)")
    result = plain(run_llm_bench(repeats=repeats, threads=threads, parallel=parallel, model=llm.model,
                                 progress=terminal_progress(stderr)))
    show_figures(as_json, result, lambda: print_table(f"harmonix bench llm: medians of {repeats} repeats", result))


@bench_group.command("threads")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--calls", type=click.IntRange(min=1), default=20, show_default=True, help="Calls per arm and repeat.")
@click.option("--contenders", type=click.IntRange(min=1), default=3, show_default=True,
              help="Threads doing the same work meanwhile, in the contended setting.")
@click.option("--tokens", type=click.IntRange(min=1), default=16, show_default=True,
              help="Tokens per llama.cpp completion.")
@harmonix_command(llm=True)
def bench_threads(config: Config, as_json: bool, repeats: int, calls: int, contenders: int, tokens: int) -> None:
    """What asyncio.to_thread costs per call of NumPy and llama.cpp work, alone and under contention, against
    calling directly (see harmonix.lab.bench.threads)."""
    from harmonix.lab.bench.threads import run_threads_bench

    llm = config.llm("prose")
    if llm.url is not None:
        raise InvalidArgument(f"bench threads measures llama.cpp in this process; it cannot measure the server "
                              f"{llm.url} (give --model PATH, or none for the embedded model)")
    result = plain(run_threads_bench(repeats=repeats, calls=calls, contenders=contenders, tokens=tokens,
                                     model=llm.model, progress=terminal_progress(stderr)))
    show_figures(as_json, result, lambda: draw_threads(result, f"harmonix bench threads: medians of {repeats} "
                                                               f"repeats, {calls} calls each, {contenders} contenders"))


@bench_group.command("cascade")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@io_options(delay_s=1.5)
@harmonix_command(llm=True)
def bench_cascade(config: Config, as_json: bool, repeats: int, io: bool, io_delay: float) -> None:
    """Parallel against sequential cascades, and against the best any schedule could do (see
    harmonix.lab.bench.cascade)."""
    from harmonix.lab.bench.cascade import run_cascade_bench

    refuse_llm_with_io(config, io)
    result = plain(run_cascade_bench(repeats=repeats, io=io, io_delay_s=io_delay, config=config,
                                     progress=terminal_progress(stderr)))
    flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
    flat |= {f"{kind}.{name}": value for kind in ("stage_s", "stage_cpu_s") for name, value in result[kind].items()}
    show_figures(as_json, result,
                 lambda: print_table(f"harmonix bench cascade{' --io' if io else ''}: medians of {repeats} cascades",
                                     flat))


@bench_group.command("serve")
@click.option("--repeats", type=click.IntRange(min=1), default=7, show_default=True,
              help="Paired cascades, in this process and through the server.")
@click.option("--cascades", type=click.IntRange(min=1), default=8, show_default=True,
              help="Cascades in each throughput arm (one client, then four).")
@click.option("--colonies", type=click.IntRange(min=1), default=100, show_default=True,
              help="Colonies opened to measure the memory each costs.")
@click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Also run the four clients spread over this many servers on one --database postgresql://….")
@harmonix_command(llm=True)
def bench_serve(config: Config, as_json: bool, repeats: int, cascades: int, colonies: int, processes: int) -> None:
    """A real server under load: HTTP+SSE overhead, first event, throughput at 1 and 4 clients against the
    machine's limit, memory per colony, integrity after the run (see harmonix.lab.bench.serve)."""
    from harmonix.lab.bench.serve import run_serve_bench

    result = plain(run_serve_bench(config, repeats=repeats, cascades=cascades, colonies=colonies,
                                   processes=processes, progress=terminal_progress(stderr)))
    show_figures(as_json, result,
                 lambda: print_table(f"harmonix bench serve: {repeats} paired, {cascades} per throughput arm", result))


@bench_group.command("soak")
@click.option("--cascades", type=click.IntRange(min=2), default=None,
              help="Cascades in all [default: 1000; 40 with --quick].")
@click.option("--clients", type=click.IntRange(min=1), default=4, show_default=True, help="Clients breathing at once.")
@click.option("--colonies", type=click.IntRange(min=1), default=2, show_default=True, help="Colonies they share.")
@click.option("--window", type=click.IntRange(min=1), default=None,
              help="Cascades between two readings [default: 100; 10 with --quick].")
@click.option("--quick", is_flag=True, help="A short run with the same figures (for the test suite).")
@io_options(delay_s=0.5)
@click.option("--keep-turns", type=click.IntRange(min=1), default=None,
              help="The server's retention policy (HARMONIX_KEEP_TURNS) [default: its own].")
@harmonix_command(llm=True)
def bench_soak(config: Config, as_json: bool, cascades: int | None, clients: int, colonies: int, window: int | None,
               quick: bool, io: bool, io_delay: float, keep_turns: int | None) -> None:
    """A long run against a real server: memory, file descriptors, tasks, latency and field sizes per window, and
    every field whole at the end (see harmonix.lab.bench.soak)."""
    from harmonix.lab.bench.soak import run_soak_bench

    refuse_llm_with_io(config, io)
    cascades = cascades or (40 if quick else 1000)
    window = window or (10 if quick else 100)
    if cascades < 3 * window:
        raise InvalidArgument(f"--cascades must be at least three windows ({3 * window}): a warm-up, and two "
                              "measured for the slope of memory per cascade")
    result = plain(run_soak_bench(config, cascades=cascades, clients=clients, colonies=colonies, window=window, io=io,
                                  io_delay_s=io_delay, keep_turns=keep_turns, progress=terminal_progress(stderr)))
    show_figures(as_json, result, lambda: draw_soak(
        result, f"harmonix bench soak: {cascades} cascades, {clients} clients, {colonies} colonies", colonies))


@bench_group.command("crash")
@click.option("--kills", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--clients", type=click.IntRange(min=1), default=4, show_default=True, help="Clients breathing at once.")
@click.option("--colonies", type=click.IntRange(min=1), default=2, show_default=True, help="Colonies they share.")
@click.option("--max-events", type=click.IntRange(min=1), default=1500, show_default=True,
              help="Each kill comes at the n-th event the clients receive, n drawn from 1..this.")
@click.option("--seed", type=int, default=16, show_default=True, help="Draws the kills' moments.")
@io_options(delay_s=0.5)
@harmonix_command(llm=True)
def bench_crash(config: Config, as_json: bool, kills: int, clients: int, colonies: int, max_events: int, seed: int,
                io: bool, io_delay: float) -> None:
    """SIGKILL a real server at random moments under load, restarting it each time: no acknowledged cascade lost,
    every field whole, nothing locked (see harmonix.lab.bench.crash)."""
    from harmonix.lab.bench.crash import run_crash_bench

    refuse_llm_with_io(config, io)
    result = plain(run_crash_bench(config, kills=kills, clients=clients, colonies=colonies, io=io, io_delay_s=io_delay,
                                   max_events=max_events, seed=seed, progress=terminal_progress(stderr)))
    show_figures(as_json, result, lambda: draw_crash(result, f"harmonix bench crash: {kills} kills"))


@bench_group.command("growth")
@click.option("--cascades", type=click.IntRange(min=2), default=10_000, show_default=True,
              help="Simulated cascades per arm (what they write, not their generation).")
@click.option("--every", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Cascades between two readings of size and turn time.")
@click.option("--keep-turns", type=click.IntRange(min=1), default=1000, show_default=True,
              help="The retention policy of the kept arm (HARMONIX_KEEP_TURNS).")
@click.option("--samples", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed turns per organism at each reading (median).")
@harmonix_command()
def bench_growth(config: Config, as_json: bool, cascades: int, every: int, keep_turns: int, samples: int) -> None:
    """A colony's size and turn time over a long simulated life, with and without retention (see
    harmonix.lab.bench.growth)."""
    from harmonix.lab.bench.growth import run_growth_bench

    result = plain(run_growth_bench(cascades=cascades, every=every, keep_turns=keep_turns, samples=samples,
                                    progress=terminal_progress(stderr)))
    show_figures(as_json, result, lambda: draw_growth(
        result, f"harmonix bench growth: {cascades} simulated cascades, keeping {keep_turns} turns"))


def show_figures(as_json: bool, result: dict[str, Any], draw: Callable[[], None]) -> None:
    """How every benchmark ends: its figures as the one JSON object (``--json``), or drawn as tables by ``draw``."""
    if as_json:
        emit_json(result)
    else:
        draw()


def draw_threads(result: dict[str, Any], title: str) -> None:
    """``bench threads``: each kind of work alone and contended, then its cost against a stage."""
    table = Table(title=title)
    for column in ("work", "setting", "direct ms", "to_thread ms", "ratio", "range", "overhead us"):
        table.add_column(column, justify="right")
    for kind in ("numpy", "llama"):
        for setting in ("alone", "contended"):
            row = result[kind][setting]
            low, high = row["ratio_range"]
            table.add_row(kind, setting, f"{row['direct_ms']:.3f}", f"{row['thread_ms']:.3f}", f"{row['ratio']:.3f}",
                          f"{low:.3f}-{high:.3f}", f"{row['overhead_us']:.0f}")
    stdout.print(table)
    print_table("against a stage", {**{f"{kind}.{key}": result[kind][key] for kind in ("numpy", "llama")
                                       for key in ("stage_ms", "stage_share")},
                                    **{key: result[key] for key in ("worst_ratio", "worst_stage_share", "threshold",
                                                                    "process_pool_needed")}})


def draw_soak(result: dict[str, Any], title: str, colonies: int) -> None:
    """``bench soak``: one row per window, then the run's figures and each field's growth per cascade."""
    table = Table(title=title)
    for column in ("cascades", "RSS MiB", "fds", "tasks", "p50 s", "colony MiB"):
        table.add_column(column, justify="right")
    for reading in result["windows"]:
        server = reading["server"]
        table.add_row(str(reading["cascades"]), f"{server['rss_mb']:.1f}", str(server["open_fds"]),
                      str(server["tasks"]), f"{reading['p50_s']:.2f}",
                      f"{sum(size['bytes'] for size in reading['fields'].values()) / 2**20 / colonies:.2f}")
    stdout.print(table)
    print_table("figures", {key: value for key, value in result.items()
                            if key not in ("windows", "baseline", "end", "field_growth_per_cascade")})
    print_table("growth per cascade", {f"{name}.{measure}": value
                                       for name, growth in result["field_growth_per_cascade"].items()
                                       for measure, value in growth.items()})


def draw_crash(result: dict[str, Any], title: str) -> None:
    """``bench crash``: the figures, then each problem found on stderr."""
    print_table(title, {k: v for k, v in result.items() if k != "problems"})
    for problem in result["problems"]:
        stderr.print(problem, markup=False, highlight=False)


def draw_growth(result: dict[str, Any], title: str) -> None:
    """``bench growth``: one row per reading and arm, then the second half's ratios."""
    table = Table(title=title)
    for column in ("cascades", "arm", "MiB", "texts", "trigram types", "turn ms"):
        table.add_column(column, justify="right")
    for arm, readings in result["readings"].items():
        for reading in readings:
            table.add_row(str(reading["cascades"]), arm, f"{reading['bytes'] / 2**20:.1f}", str(reading["texts"]),
                          str(reading["trigram_types"]), f"{reading['turn_ms']:.1f}")
    stdout.print(table)
    print_table("second half of the run", {f"{key}.{arm}": value for key in ("bytes_per_cascade", "size_ratio",
                                                                            "turn_ms_ratio")
                                           for arm, value in result[key].items()})


def print_table(title: str, values: dict[str, Any]) -> None:
    """A two-column table of a benchmark's figures."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in values.items():
        table.add_row(key, _cell(value))
    stdout.print(table)


def _cell(value: Any) -> str:
    """One figure as a table cell: floats to four significant digits, ranges as ``low - high``."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " - ".join(_cell(item) for item in value)
    return str(value)
