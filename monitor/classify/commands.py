"""Click commands: `monitor classify`, `monitor train`, `monitor eval`."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

import click

from monitor.classify.labels import decide_stance, flags_over
from monitor.classify.runtime import feature_variant, graph_dir
from monitor.cli.context import pass_context

# Lines scored per call when reading stdin: large enough to fill sorted batches.
STDIN_CHUNK = 512


@click.command("classify")
@click.option("--embedding", is_flag=True, help="Also write each post's 384-d embedding.")
@click.option(
    "--language",
    default=None,
    help="Every post's language code, e.g. en (which scores every post with the English "
    "heads). Default: detected as ingest detects it.",
)
@pass_context
def classify_command(ctx: Any, embedding: bool, language: str | None) -> None:
    """Score posts read one per line on stdin; write one JSON object per line.

    Each object has `language` (as ingest detects it, or --language; null when unsure),
    `covered` (whether the model covers that language: see the model card), `scores` (every
    label's calibrated probability), `flags` (hostile, offensive, rumour when over their
    thresholds), `stance` (support, deny, query or comment: meaningful for replies only) and
    `model` (the heads and the encoder path and version that scored, e.g.
    minilm-heads-v1+ort1.32.0-fp32-cpu). A post in a language the model does not cover is
    not scored, as in the service: its `scores` are empty, `flags` too, and `stance` null.
    Empty lines get a line of output too, so output lines match input.
    """
    from monitor.classify import load_classifier

    settings = ctx.settings
    asyncio.run(
        _classify_stream(load_classifier(settings), sys.stdin, sys.stdout, embedding, language)
    )


async def _classify_stream(
    clf: Any, stdin: TextIO, stdout: TextIO, embedding: bool, language: str | None = None
) -> None:
    try:
        for chunk in line_chunks(stdin):
            await _write(clf, [_utf8(line) for line in chunk], stdout, embedding, language)
    finally:
        await clf.close()


def line_chunks(stream: TextIO, size: int = STDIN_CHUNK) -> Iterator[list[str]]:
    """The stream's lines without their line ends, `size` at a time (`monitor classify` and
    `monitor rules scan` read posts one a line this way)."""
    chunk: list[str] = []
    for line in stream:
        chunk.append(line.rstrip("\n").rstrip("\r"))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _utf8(line: str) -> str:
    """The line with bytes that were not UTF-8 (which reach Python as surrogates, and which the
    tokenizer refuses with a TypeError) shown as "?": the other lines are still scored."""
    return line.encode("utf-8", "replace").decode("utf-8")


async def _write(
    clf: Any, texts: list[str], stdout: TextIO, embedding: bool, language: str | None
) -> None:
    from monitor.classify.languages import is_covered
    from monitor.ingest.core import detect_language

    analyses = await clf.analyse(texts)
    thresholds = clf.thresholds
    stance_thresholds = getattr(clf, "stance_thresholds", None)
    covered_languages: frozenset[str] | None = getattr(clf, "covered_languages", None)
    for text, a in zip(texts, analyses, strict=True):
        lang = language or detect_language(text)
        covered = is_covered(lang, covered_languages)
        scores = a.scores if covered else {}
        record: dict[str, Any] = {
            "language": lang,
            "covered": covered,
            "scores": scores,
            "flags": flags_over(scores, thresholds),
            "stance": decide_stance(scores, stance_thresholds) if covered else None,
            # What scored it (heads, runtime, version, precision), so a score can be
            # reproduced later with the same path.
            "model": clf.name,
        }
        if embedding:
            record["embedding"] = [round(float(x), 6) for x in a.embedding]
        stdout.write(json.dumps(record) + "\n")
    stdout.flush()


def _default_out(ctx: Any) -> Path:
    from monitor.classify import model_dir

    return model_dir(ctx.settings)


# train and eval read the same labelled data.
_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Shared data folder (with labelled/). Default: $MONITOR_DATA_DIR or ../shared/data.",
)


@click.command("train")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model folder to write. Default: <home>/models/<classifier_model>.",
)
@_data_dir_option
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where encoder features are cached. Default: var/cache/classify in the checkout.",
)
@click.option("--seed", type=int, default=None, help="Seed (default: the recipe's, 13).")
@click.option(
    "--encoder",
    type=click.Choice(["serving", "fp32", "int8", "onnx"]),
    default="serving",
    help="Encoder variant whose features the heads learn from. Default: the one that serves "
    "(classifier_runtime and classifier_quantize), so the heads see at training what they "
    "see in use.",
)
@click.option(
    "--lora",
    is_flag=True,
    help="Also fine-tune: LoRA adapters on the encoder's top two layers, trained multi-task "
    "with augmentation; hostile then reads the adapted layers and is refitted on them, and "
    "offensive reads the offensive branch (--branch; issue 18; about 21 CPU-minutes from an "
    "empty feature cache, plus the branch's 7 minutes wall at load under 1, 47 at load 7-8).",
)
@click.option(
    "--branch/--no-branch",
    default=True,
    show_default=True,
    help="With --lora, also train the offensive branch: copies of the encoder's layers 2..5, "
    "every weight trained for offensive alone on all TweetEval offensive training posts, "
    "whose linear head becomes the offensive head (issue 18; served as a third pass over "
    "four layers). --no-branch refits the offensive head on the adapted pools instead.",
)
@click.option(
    "--branch-only",
    is_flag=True,
    help="Only train the offensive branch into the existing fine-tuned model folder (--out), "
    "replacing its offensive head; its adapter and other heads stay as they are.",
)
@click.option(
    "--branch-from",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="With --branch-only: install this branch file (trained earlier by the same recipe, "
    "which its metadata records) instead of training one.",
)
@click.option(
    "--refit-only",
    is_flag=True,
    help="Only refit the hostile head of the existing fine-tuned model folder (--out) on its "
    "adapter's pools, as --lora's refit step does (after a change to the refit's examples), "
    "and choose its sentence threshold again; the adapter, the branch and the other heads "
    "stay byte for byte.",
)
@click.option(
    "--rumour-only",
    is_flag=True,
    help="Only retrain the rumour head of the existing model folder (--out) on the frozen "
    "pools, by the current recipe (after a change to the rumour recipe); the adapter, the "
    "branch and the other heads stay byte for byte.",
)
@click.option("--threads", type=int, default=2, show_default=True, help="Torch threads for --lora.")
@pass_context
def train_command(
    ctx: Any,
    out: Path | None,
    data_dir: Path | None,
    cache_dir: Path | None,
    seed: int | None,
    encoder: str,
    lora: bool,
    branch: bool,
    branch_only: bool,
    branch_from: Path | None,
    refit_only: bool,
    rumour_only: bool,
    threads: int,
) -> None:
    """Train the classifier heads on frozen encoder features (and with --lora the encoder's
    adapters and the offensive branch) and write the model folder."""
    from monitor.classify.data import DataMissing
    from monitor.classify.features import FeatureCache
    from monitor.classify.train import Recipe, train_heads, write_model

    out = out or _default_out(ctx)
    if branch_from is not None and not branch_only:
        raise click.UsageError("--branch-from goes with --branch-only")
    if sum((branch_only, refit_only, rumour_only)) > 1:
        raise click.UsageError(
            "--branch-only, --refit-only and --rumour-only are separate steps: run one"
        )
    if rumour_only:
        if seed is not None:
            raise click.UsageError("--rumour-only keeps the model's recipe and its seed")
        _rumour_only(ctx, out, encoder, cache_dir, data_dir)
        return
    if branch_only:
        _add_branch(ctx, out, seed, threads, cache_dir, data_dir, branch_from)
        return
    if refit_only:
        _refit_only(ctx, out, seed, cache_dir, data_dir)
        return
    recipe = Recipe() if seed is None else Recipe(seed=seed)
    started = time.monotonic()
    warnings.filterwarnings("ignore", category=UserWarning)
    try:
        cache = FeatureCache(
            cache_dir,
            variant=feature_variant(ctx.settings, encoder),
            graph_dir=graph_dir(ctx.settings),
        )
        trained = train_heads(recipe, cache, data_dir, progress=click.echo)
    except DataMissing as exc:
        raise click.ClickException(str(exc)) from None
    extra: dict[str, Any] = {}
    if lora:
        from monitor.classify.finetune import fine_tune, write_adapter
        from monitor.classify.lora import LoraRecipe

        lora_recipe = LoraRecipe() if seed is None else LoraRecipe(seed=seed)
        trained, result = fine_tune(lora_recipe, trained, data_dir, click.echo, threads)
        out.mkdir(parents=True, exist_ok=True)
        extra["adapter"] = write_adapter(out, result, lora_recipe)
        from monitor.classify.export import AdapterSpec
        from monitor.classify.lora import ADAPTER_FILE
        from monitor.classify.manifest import sha256_file
        from monitor.classify.refit import hostile_sentence_rule, refit_hostile, refit_offensive

        spec = AdapterSpec(
            path=out / ADAPTER_FILE,
            sha256=sha256_file(out / ADAPTER_FILE),
            rank=lora_recipe.rank,
            alpha=lora_recipe.alpha,
        )
        adapted = FeatureCache(
            cache_dir, variant="onnx", graph_dir=graph_dir(ctx.settings), adapter=spec
        )
        trained = refit_hostile(trained, lora_recipe, adapted, data_dir, click.echo)
        sentences = hostile_sentence_rule(trained, lora_recipe, adapted, data_dir, click.echo)
        if sentences is not None:
            extra["hostile_sentences"] = sentences
        if branch:
            trained, extra["branch"] = _train_branch(
                out, spec, trained, seed, threads, cache_dir, data_dir, ctx.settings
            )
        else:
            trained = refit_offensive(trained, lora_recipe, adapted, data_dir, click.echo)
        extra["operating_points"] = {
            label: trained.validation[label]["operating_point"]
            for label in ("hostile", "offensive")
        }
    manifest = write_model(out, trained, recipe, out.name, cache.variant, extra)
    click.echo(f"wrote {out} in {time.monotonic() - started:.0f} s")
    _record_graph(ctx, out, manifest)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    from monitor.classify.manifest import MANIFEST

    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _record_graph(ctx: Any, out: Path, manifest: dict[str, Any]) -> None:
    """Export the serving graph now rather than at the first start, so serving starts in a
    second; a fine-tuned model's graph sha256 goes into its manifest."""
    if feature_variant(ctx.settings, "serving") == "onnx":
        from monitor.classify.manifest import load_model_dir
        from monitor.classify.runtime import select_encoder

        adapter = load_model_dir(out).adapter
        _, info = select_encoder(
            runtime="onnx", device="cpu", cache_dir=graph_dir(ctx.settings), adapter=adapter
        )
        click.echo(f"encoder for serving: {info['graph']} (sha256 {info['graph_sha256']})")
        if adapter is not None:
            manifest["adapter"]["onnx_sha256"] = info["graph_sha256"]
            _write_manifest(out, manifest)
    click.echo("thresholds: " + json.dumps(manifest["thresholds"]))


def _train_branch(
    out: Path,
    adapter: Any,
    trained: Any,
    seed: int | None,
    threads: int,
    cache_dir: Path | None,
    data_dir: Path | None,
    settings: Any,
) -> tuple[Any, dict[str, Any]]:
    """Train the offensive branch, write it into `out` and set the offensive head from it."""
    from monitor.classify import data as datasets
    from monitor.classify.branch import (
        BRANCH_FILE,
        BranchRecipe,
        branch_tensors,
        save_branch,
        train_branch,
        training_record,
    )

    recipe = BranchRecipe() if seed is None else BranchRecipe(seed=seed)
    tr = datasets.tweeteval("offensive", "train", data_dir)
    va = datasets.tweeteval("offensive", "val", data_dir)
    click.echo(f"branch: training layers {recipe.first}..5 for offensive (seed {recipe.seed})")
    result = train_branch(
        recipe, (tr.texts, tr.labels), (va.texts, va.labels), threads=threads, progress=click.echo
    )
    click.echo(f"branch: trained in {result.seconds:.0f} s (best step {result.best_step})")
    out.mkdir(parents=True, exist_ok=True)
    tensors = branch_tensors(result.layers, result.head)
    save_branch(out / BRANCH_FILE, tensors, recipe, training_record(result))
    return _install_branch(out, adapter, trained, cache_dir, data_dir, settings)


def _add_branch(
    ctx: Any,
    out: Path,
    seed: int | None,
    threads: int,
    cache_dir: Path | None,
    data_dir: Path | None,
    branch_from: Path | None,
) -> None:
    """`--branch-only`: the branch step alone on an existing fine-tuned model folder. Only
    the offensive head's tensors, the branch file and the manifest's offensive records
    change; the adapter and the other heads are left byte for byte."""
    from monitor.classify.branch import BRANCH_FEATURES, BRANCH_FILE
    from monitor.classify.data import DataMissing
    from monitor.classify.manifest import sha256_file

    started = time.monotonic()
    warnings.filterwarnings("ignore", category=UserWarning)
    adapter, manifest, trained = _open_fine_tuned(out, "the branch runs beside one")
    try:
        if branch_from is None:
            trained, record = _train_branch(
                out, adapter, trained, seed, threads, cache_dir, data_dir, ctx.settings
            )
        else:
            if branch_from.resolve() != (out / BRANCH_FILE).resolve():
                shutil.copyfile(branch_from, out / BRANCH_FILE)
            trained, record = _install_branch(
                out, adapter, trained, cache_dir, data_dir, ctx.settings
            )
    except DataMissing as exc:
        raise click.ClickException(str(exc)) from None
    _record_heads(out, manifest, trained, "offensive")
    manifest["branch"] = record
    if BRANCH_FEATURES not in manifest["features"]:
        manifest["features"] += BRANCH_FEATURES
    manifest["files"][BRANCH_FILE] = sha256_file(out / BRANCH_FILE)
    _write_manifest(out, manifest)
    click.echo(f"branch: wrote {out} in {time.monotonic() - started:.0f} s")
    _record_graph(ctx, out, manifest)


def _refit_only(
    ctx: Any, out: Path, seed: int | None, cache_dir: Path | None, data_dir: Path | None
) -> None:
    """`--refit-only`: the hostile refit alone on an existing fine-tuned model folder. Only the
    hostile head's tensors and the manifest's hostile records change."""
    from monitor.classify.data import DataMissing
    from monitor.classify.features import FeatureCache
    from monitor.classify.lora import LoraRecipe
    from monitor.classify.refit import hostile_sentence_rule, refit_hostile
    from monitor.classify.sentences import MANIFEST_KEY

    started = time.monotonic()
    warnings.filterwarnings("ignore", category=UserWarning)
    adapter, manifest, trained = _open_fine_tuned(out, "the refit reads its pools")
    # The pools the refit reads (3, 4, 7, 8) are the adapter's alone: the cache rows that
    # `--lora` wrote before the branch existed serve here too.
    adapted = FeatureCache(
        cache_dir, variant="onnx", graph_dir=graph_dir(ctx.settings), adapter=adapter
    )
    recipe = LoraRecipe() if seed is None else LoraRecipe(seed=seed)
    try:
        trained = refit_hostile(trained, recipe, adapted, data_dir, click.echo)
        # The sentence threshold is chosen for this head and threshold, so it is chosen again.
        sentences = hostile_sentence_rule(trained, recipe, adapted, data_dir, click.echo)
    except DataMissing as exc:
        raise click.ClickException(str(exc)) from None
    _record_heads(out, manifest, trained, "hostile")
    manifest.pop(MANIFEST_KEY, None)
    if sentences is not None:
        manifest[MANIFEST_KEY] = sentences
    # The adapter's record keeps the recipe as `--lora` writes it: the refit's settings are
    # part of it (the fine-tuning's own are unchanged, or the adapter would be another).
    manifest["adapter"]["recipe"] = {
        k: (dict(v) if isinstance(v, dict) else v) for k, v in asdict(recipe).items()
    }
    _write_manifest(out, manifest)
    click.echo(f"refit: wrote {out} in {time.monotonic() - started:.0f} s")
    click.echo("thresholds: " + json.dumps(manifest["thresholds"]))


def _rumour_only(
    ctx: Any, out: Path, encoder: str, cache_dir: Path | None, data_dir: Path | None
) -> None:
    """`--rumour-only`: the rumour head alone, retrained on the frozen pools by the model's
    recipe with the current recipe's rumour settings. Only the rumour head's tensors and the
    manifest's rumour records and recipe change."""
    from monitor.classify.data import DataMissing
    from monitor.classify.evaluate import recipe_from_manifest
    from monitor.classify.features import FeatureCache
    from monitor.classify.heads import HeadSet
    from monitor.classify.labels import RUMOUR
    from monitor.classify.manifest import ModelError, load_model_dir
    from monitor.classify.train import RUMOUR_SETTINGS, Recipe, Trained, train_rumour

    started = time.monotonic()
    warnings.filterwarnings("ignore", category=UserWarning)
    try:
        model = load_model_dir(out)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    manifest = json.loads(json.dumps(model.manifest))
    current = Recipe()
    recipe = replace(
        recipe_from_manifest(manifest), **{k: getattr(current, k) for k in RUMOUR_SETTINGS}
    )
    cache = FeatureCache(
        cache_dir, variant=feature_variant(ctx.settings, encoder), graph_dir=graph_dir(ctx.settings)
    )
    if cache.variant != manifest.get("trained_on_encoder", cache.variant):
        raise click.ClickException(
            f"{out} was trained on the {manifest['trained_on_encoder']} encoder's features, "
            f"this run would read {cache.variant}'s: pass --encoder "
            f"{manifest['trained_on_encoder']}"
        )
    click.echo("rumour: features and leave-one-event-out")
    try:
        rumour = train_rumour(cache, recipe, data_dir)
    except DataMissing as exc:
        raise click.ClickException(str(exc)) from None
    thresholds = {k: float(v) for k, v in manifest["thresholds"].items()}
    thresholds[RUMOUR] = rumour.threshold
    trained = Trained(
        heads=HeadSet([rumour.head if h.name == RUMOUR else h for h in model.heads.heads]),
        thresholds=thresholds,
        validation={**manifest.get("validation", {}), RUMOUR: rumour.validation},
        data_hashes={**manifest.get("data_sha256", {}), **rumour.hashes},
    )
    _record_heads(out, manifest, trained, RUMOUR)
    manifest["recipe"] = asdict(recipe)
    _write_manifest(out, manifest)
    click.echo(
        f"rumour: leave-one-event-out macro-F1 {rumour.validation['loeo_macro_f1']} "
        f"(threshold {rumour.threshold}); wrote {out} in {time.monotonic() - started:.0f} s"
    )
    click.echo("thresholds: " + json.dumps(manifest["thresholds"]))


def _open_fine_tuned(out: Path, why: str) -> tuple[Any, dict[str, Any], Any]:
    """A fine-tuned model folder opened for one step of `monitor train` (--branch-only,
    --refit-only): its adapter without a branch or graph record (the step's features are
    the adapter's own, and the recorded graph is not a reference for them), a copy of its
    manifest and its heads, thresholds and records as a `Trained`."""
    from monitor.classify.manifest import ModelError, load_model_dir
    from monitor.classify.train import Trained

    try:
        model = load_model_dir(out)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    if model.adapter is None:
        raise click.ClickException(f"{out} has no adapter: {why} (--lora)")
    manifest = json.loads(json.dumps(model.manifest))
    trained = Trained(
        heads=model.heads,
        thresholds={k: float(v) for k, v in manifest["thresholds"].items()},
        validation=manifest.get("validation", {}),
        data_hashes=manifest.get("data_sha256", {}),
    )
    return replace(model.adapter, branch=None, graph_sha256=""), manifest, trained


def _record_heads(out: Path, manifest: dict[str, Any], trained: Any, label: str) -> None:
    """Write `trained`'s heads into `out` and its heads, thresholds, records and `label`'s
    operating point into `manifest` (written by the caller)."""
    from monitor.classify.manifest import HEADS_FILE, sha256_file

    trained.heads.save(out / HEADS_FILE)
    manifest["heads"] = trained.heads.specs()
    manifest["thresholds"] = {k: round(v, 3) for k, v in trained.thresholds.items()}
    manifest["validation"] = trained.validation
    manifest["data_sha256"] = trained.data_hashes
    if "operating_point" in trained.validation[label]:
        manifest["operating_points"] = {
            **manifest.get("operating_points", {}),
            label: trained.validation[label]["operating_point"],
        }
    manifest["files"][HEADS_FILE] = sha256_file(out / HEADS_FILE)


def _install_branch(
    out: Path,
    adapter: Any,
    trained: Any,
    cache_dir: Path | None,
    data_dir: Path | None,
    settings: Any,
) -> tuple[Any, dict[str, Any]]:
    """Set the offensive head from the branch in `out`, scored on the serving encoder's
    pools of the stored (fp16) branch; returns the model and the manifest's branch record."""
    from monitor.classify.branch import BRANCH_FILE, branch_record, load_branch
    from monitor.classify.export import BranchSpec
    from monitor.classify.features import FeatureCache
    from monitor.classify.manifest import sha256_file
    from monitor.classify.refit import attach_branch

    path = out / BRANCH_FILE
    weights = load_branch(path)
    spec = replace(adapter, branch=BranchSpec(path, sha256_file(path), weights.first))
    cache = FeatureCache(cache_dir, variant="onnx", graph_dir=graph_dir(settings), adapter=spec)
    trained = attach_branch(trained, weights, cache, data_dir, click.echo)
    return trained, branch_record(weights)


@click.group("eval", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--encoder",
    type=click.Choice(["serving", "fp32", "int8", "onnx"]),
    default="serving",
    help="Which encoder variant to score with (default: what the settings serve on CPU).",
)
@click.option("--no-tolerance", is_flag=True, help="Skip the comparison with PyTorch fp32 scores.")
@click.option(
    "--suites-only",
    is_flag=True,
    help="Only the fairness, functional, obfuscation, emoji and language suites (a minute, "
    "not the full run).",
)
@click.option(
    "--sentences/--no-sentences",
    default=None,
    help="Score hostile with the model's sentence rule (each sentence of a longer post also "
    "read alone) or without it. Default: as the settings serve (classifier_sentences).",
)
@_data_dir_option
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where encoder features are cached. Default: var/cache/classify in the checkout.",
)
@pass_context
def eval_command(
    ctx: Any,
    as_json: bool,
    encoder: str,
    no_tolerance: bool,
    suites_only: bool,
    sentences: bool | None,
    data_dir: Path | None,
    cache_dir: Path | None,
) -> None:
    """Score the shipped heads: TweetEval, PHEME, RumourEval, the identity-group bias suite,
    and the fairness (per-group subgroup/BPSN/BNSP AUC and FPR against the rest),
    functional, obfuscation, emoji and language suites. `monitor eval events` scores the
    signals on labelled streams instead."""
    if click.get_current_context().invoked_subcommand:
        return
    from monitor.classify.data import DataMissing
    from monitor.classify.evaluate import (
        evaluate,
        evaluate_suites,
        format_suites,
        format_table,
        tolerance,
    )
    from monitor.classify.features import FeatureCache
    from monitor.classify.manifest import ModelError, load_model_dir

    warnings.filterwarnings("ignore", category=UserWarning)
    settings = ctx.settings
    variant = feature_variant(settings, encoder)
    from monitor.classify.sentences import MANIFEST_KEY

    try:
        model = load_model_dir(_default_out(ctx))
        rule = model.manifest.get(MANIFEST_KEY)
        applied = bool(rule) and (settings.classifier_sentences if sentences is None else sentences)
        if rule and not applied:  # scored as served: posts whole
            model = replace(
                model, manifest={k: v for k, v in model.manifest.items() if k != MANIFEST_KEY}
            )
        features = FeatureCache(
            cache_dir, variant=variant, graph_dir=graph_dir(settings), adapter=model.adapter
        )
        suites = evaluate_suites(model, features)
        if rule:
            suites[MANIFEST_KEY] = {**rule, "applied": applied}
        if suites_only:
            suites = {"model": model.name, "encoder": features.variant, **suites}
            click.echo(json.dumps(suites, indent=2) if as_json else format_suites(suites))
            return
        result = evaluate(model, features, data_dir)
        result.update(suites)
        if variant != "fp32" and not no_tolerance:
            reference = evaluate(
                model, FeatureCache(cache_dir, variant="fp32", adapter=model.adapter), data_dir
            )
            result["tolerance"] = tolerance(
                result["_scored"], reference["_scored"], model.all_thresholds
            )
            result["fp32"] = {
                k: reference[k]
                for k in (
                    "hate_test_macro_f1",
                    "offensive_test_macro_f1",
                    "rumour_loeo_macro_f1",
                    "stance_test_macro_f1",
                )
            }
            result["fp32"]["bias_overall"] = reference["bias"]["overall"]
    except (DataMissing, ModelError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    result.pop("_scored", None)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_table(result) + "\n" + format_suites(result))


def register(cli: click.Group) -> None:
    for command in (classify_command, train_command, eval_command):
        cli.add_command(command)
