"""The ``neuroplastic`` command (click): thin wrappers around :mod:`neuroplastic.apps`."""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from neuroplastic._version import __version__


#: Exit code of an error the user can fix (as click's own usage errors).
USER_ERROR_EXIT = 2


class UserError(click.ClickException):
    """One line on standard error, exit code 2."""

    exit_code = USER_ERROR_EXIT


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the input, the options or the machine need a fix", never "a bug"."""
    from neuroplastic._core.errors import NeuroplasticError

    kinds: list[type[BaseException]] = [NeuroplasticError, OSError, MemoryError]
    try:  # an environment problem (not launched by torchrun, a peer that died), not a bug
        from neuroplastic.distributed.process_group import DistributedError

        kinds.append(DistributedError)
    except ImportError:  # pragma: no cover - torch.distributed missing
        pass
    return tuple(kinds)


_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _raised_by_us(e: BaseException) -> bool:
    """A ``ValueError`` raised by a check of this library (which names the fix), not by numpy,
    torch or scikit-learn deep inside a computation (a bug of ours that reached them)."""
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(_PACKAGE_DIR)


def _is_user_error(e: BaseException) -> bool:
    return isinstance(e, _user_error_types()) or (isinstance(e, ValueError) and _raised_by_us(e))


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None and e.strerror:
        # a raw OSError from the system (permission denied, disk full, read-only file system)
        where = f": {e.filename}" if e.filename else ""
        fix = {13: "choose a folder you can write to or fix its permissions",
               28: "free some disk space or write elsewhere",
               30: "write to a writable file system",
               2: "check the path"}.get(e.errno or 0, "check the path and its permissions")
        return f"{e.strerror}{where}: {fix}"
    if isinstance(e, MemoryError):
        return "out of memory: use a smaller input or settings that need less memory"
    msg = str(e) or type(e).__name__
    return " ".join(msg.split()) if "\n" in msg else msg


class _Group(click.Group):
    """Turns errors the user can fix into one line on standard error and exit code 2.

    What is converted: the library's own :class:`~neuroplastic._core.errors.NeuroplasticError`
    (bad data, options, states), a ``ValueError`` raised by the library's own checks (which name
    the fix; one raised inside numpy, torch or scikit-learn is not), ``OSError`` (a file that
    cannot be read or written, permission denied, disk full), ``MemoryError`` and
    ``DistributedError``. Anything else (``KeyError``, ``AttributeError``, ``TypeError`` ...)
    is a bug: it keeps its traceback, after a line saying so. ``--debug`` (or
    ``NEUROPLASTIC_DEBUG=1``) shows the traceback of every error.
    """

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        debug = bool(ctx.params.get("debug")) or os.environ.get("NEUROPLASTIC_DEBUG", "") not in ("", "0")
        shown = warnings.showwarning
        if not debug:  # a warning is one line too ("Warning: ..."), without the source line that raised it
            warnings.showwarning = lambda message, *a, **k: click.echo(f"Warning: {message}", err=True)
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:
            if _is_user_error(e):
                if debug:
                    raise
                raise UserError(_one_line(e)) from e
            click.echo(f"Error: internal error ({type(e).__name__}): this is a bug in neuroplastic {__version__}; "
                       "please report it with the command you ran and the traceback below", err=True)
            raise
        finally:
            warnings.showwarning = shown


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neuroplastic")
@click.option("--debug", is_flag=True, help="Show the full traceback of any error (also NEUROPLASTIC_DEBUG=1).")
def main(debug: bool) -> None:
    """neuroplastic: brain-inspired neural networks (spiking neurons, plasticity, streams)."""


_STRICT_TIME = click.option("--strict-time", is_flag=True,
                            help="Refuse timestamps that go backwards (default: a clock that steps back, e.g. at a "
                                 "daylight-saving change, is processed in file order with a warning naming the lines).")
_ENCODING = click.option("--encoding", default="auto", show_default=True,
                         help="Text encoding of the file: auto reads UTF-8 (with or without BOM), else Latin-1 "
                              "with a warning; or name one (cp1252, utf-16 ...).")


#: --seed: the seeds numpy, torch and scikit-learn all accept
_SEED = click.IntRange(0, 2**32 - 1)


@main.command()
@click.option("--dataset", type=click.Choice(["digits", "breast-cancer", "iris", "wine"]), default="digits",
              show_default=True, help="Embedded dataset (stratified 75/25 split, seed 0).")
@click.option("--quick", is_flag=True, help="Fewer epochs: a smoke run within a minute.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo_out"),
              show_default=True, help="Folder for plots and results.json.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write {dataset, results: [...]} to this file.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed for weights and shuffling (0 to 2**32-1).")
@click.option("-v", "--verbose", count=True, help="Show training progress bars.")
def demo(dataset: str, quick: bool, out: Path, json_path: Path | None, seed: int, verbose: int) -> None:
    """Train bio-inspired models beside the founding backprop baseline and compare them."""
    from neuroplastic._core.checks import check_output_path
    from neuroplastic.apps.demo import run_demo

    check_output_path(out, folder=True)
    if json_path is not None:
        check_output_path(json_path, option="--json")

    run_demo(dataset, quick=quick, out=out, json_path=json_path, seed=seed, verbose=min(verbose, 1), echo=click.echo)


@main.command()
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV table with a header row.")
@click.option("--target", required=True, help="Name of the label column.")
@click.option("--model", "model_kind", type=click.Choice(["snn", "mlp", "mlp-founding", "plasticity", "hybrid"]),
              default="snn", show_default=True,
              help="snn: spiking net (surrogate gradients); mlp: wide MLP; mlp-founding: the 4-4 baseline; "
                   "plasticity: Hebbian features + readout; hybrid: Hebbian-pretrained spiking net fine-tuned "
                   "by surrogate gradients.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--epochs", type=int, default=None, help="Override the model's tuned number of epochs.")
@click.option("--test-size", type=float, default=0.25, show_default=True, help="Held-out fraction for the report.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed (0 to 2**32-1).")
@click.option("--strategy", type=click.Choice(["none", "ddp"]), default="none", show_default=True,
              help="ddp: data-parallel across processes (launch with torchrun).")
@click.option("--exclude", multiple=True, metavar="COLUMN",
              help="Leave this column out of the features (an identifier, free text); repeat for several.")
@_ENCODING
@click.option("-v", "--verbose", count=True, help="Show training progress bars.")
def train(data_path: Path, target: str, model_kind: str, out: Path, epochs: int | None, test_size: float,
          seed: int, strategy: str, exclude: tuple[str, ...], encoding: str, verbose: int) -> None:
    """Train a classifier on a CSV table; save the model and a report under OUT.

    Every column but the target is a feature: numbers as they are, text columns one-hot encoded
    (one feature per category seen in training); features are standardised with training statistics.
    """
    from neuroplastic.apps.tabular import train_csv

    train_csv(data_path, target, out, model=model_kind, epochs=epochs, test_size=test_size, seed=seed,
              strategy=None if strategy == "none" else strategy, verbose=min(verbose, 1), exclude=exclude,
              encoding=encoding, echo=click.echo)


@main.command()
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder written by `neuroplastic train`.")
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with the training feature columns (the target column may be absent).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output CSV (default: standard output).")
@click.option("--proba", is_flag=True, help="Also write one probability column per class.")
def predict(model_dir: Path, data_path: Path, out: Path | None, proba: bool) -> None:
    """Write one prediction per input row, in order."""
    from neuroplastic.apps.tabular import predict_csv

    text = predict_csv(model_dir, data_path, out, proba=proba)
    if out is None:
        sys.stdout.write(text)
    else:
        click.echo(f"wrote {out}", err=True)


@main.command()
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV stream (e.g. timestamp,value); rows in time order.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output CSV: the input rows plus an anomaly_score column (default: standard output).")
@click.option("--column", "columns", multiple=True, help="Numeric column(s) to watch (default: all but the timestamp).")
@click.option("--on-bad", type=click.Choice(["error", "hold", "skip"]), default="error", show_default=True,
              help="Empty/NaN/non-numeric values: stop with an error, hold the previous value, or skip the row (score 0).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Detector checkpoint folder: continue the stream saved there (if any), then save it again. "
                   "Feeding a stream file by file this way gives the same scores as one long file.")
@_STRICT_TIME
@_ENCODING
def detect(data_path: Path, out: Path | None, columns: tuple[str, ...], on_bad: str, no_progress: bool,
           state: Path | None, strict_time: bool, encoding: str) -> None:
    """Stream a CSV through the online anomaly detector: one score in [0, 1] per input row, in order.

    The file (any of , ; tab | as delimiter) is read in blocks and checked in full before any
    output, and memory does not grow with its length.
    """
    from neuroplastic.streaming.commands import detect_csv

    detect_csv(data_path, out if out is not None else sys.stdout, columns=list(columns) or None, on_bad=on_bad,
               progress=not no_progress, state=state, strict_time=strict_time, encoding=encoding,
               return_scores=False)
    if out is not None:
        click.echo(f"wrote {out}", err=True)


@main.command()
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV stream (e.g. timestamp,value); rows in time order.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output CSV: the input rows plus forecast_next, the forecast of the following row "
                   "(default: standard output).")
@click.option("--column", default=None, help="Numeric column to forecast (needed when there are several).")
@click.option("--on-bad", type=click.Choice(["error", "hold", "skip"]), default="error", show_default=True,
              help="Empty/NaN/non-numeric values: stop with an error, hold the previous value, or skip the row.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Forecaster checkpoint folder: continue the stream saved there (if any), then save it again.")
@_STRICT_TIME
@_ENCODING
def forecast(data_path: Path, out: Path | None, column: str | None, on_bad: str, no_progress: bool,
             state: Path | None, strict_time: bool, encoding: str) -> None:
    """Forecast a CSV stream one step ahead, learning online: one forecast per input row, in order."""
    from neuroplastic.streaming.commands import forecast_csv

    res = forecast_csv(data_path, out if out is not None else sys.stdout, column=column, on_bad=on_bad,
                       progress=not no_progress, state=state, strict_time=strict_time, encoding=encoding)
    if res["n"]:
        ratio = res["mae"] / res["mae_persistence"] if res["mae_persistence"] > 0 else float("nan")
        click.echo(f"{res['n']} forecasts: MAE {res['mae']:.6g}, persistence {res['mae_persistence']:.6g} "
                   f"(ratio {ratio:.3f}); next value: {res['next']:.6g}", err=True)
    if out is not None:
        click.echo(f"wrote {out}", err=True)


@main.command()
@click.option("--corpus", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder in NAB's layout: data/<category>/<name>.csv and labels/combined_windows.json.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Results folder in NAB's layout (<category>/<detector>_<name>.csv).")
@click.option("--threshold", type=float, default=None,
              help="Apply this fixed threshold (chosen on other data) instead of searching the best one.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the scores per profile and the threshold as JSON.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_STRICT_TIME
def nab(corpus: Path, out: Path, threshold: float | None, json_path: Path | None, no_progress: bool,
        strict_time: bool) -> None:
    """Run the detector on every NAB stream under CORPUS/data and score it with NAB's rules.

    Rows are processed and scored in file order, as NAB does, also in a stream whose clock steps
    back (a warning names the lines; --strict-time refuses it).
    """
    from neuroplastic.streaming.commands import run_nab

    run_nab(corpus, out, threshold=threshold, json_path=json_path, progress=not no_progress, echo=click.echo,
            strict_time=strict_time)


@main.command()
@click.option("--model", "model_dirs", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder written by `neuroplastic train`; repeat to compare models (e.g. an snn and an mlp).")
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled CSV to evaluate on (held-out rows; same columns as in training).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for robustness.json and robustness.png.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Random draws per level.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed (0 to 2**32-1).")
def robustness(model_dirs: tuple[Path, ...], data_path: Path, out: Path, repeats: int, seed: int) -> None:
    """Accuracy under input noise, feature dropout, synapse lesions and neuron death, side by side."""
    from neuroplastic.apps.tabular import robustness_csv

    robustness_csv(list(model_dirs), data_path, out, repeats=repeats, seed=seed, echo=click.echo)


from neuroplastic.rl.cli import rl as _rl  # noqa: E402  (imports click only; gymnasium on use)

main.add_command(_rl)


def _run() -> None:  # pragma: no cover - console entry for `python -m neuroplastic`
    main()


if __name__ == "__main__":  # pragma: no cover
    main()
