"""``interpolate`` and ``analogs``: walks and neighbourhoods in the latent space."""

from __future__ import annotations

import contextlib

from pathlib import Path
from typing import Optional

import typer

from molvae_cli.common import add_predictions, check_seed, console, progress_bar, load_predictor, fail, load_model, plural, run_guarded
from molvae_cli.main import app

MODEL_OPTION = typer.Option(None, "--model", "-m", help="Model file (default: the shipped model).")
ANCHOR_OPTION = typer.Option(None, "--anchor-samples", help="Posterior samples tried when a molecule's mean does not decode back to it (0: use the mean, no inversion either; default 64).")
INVERT_OPTION = typer.Option(None, "--invert-steps", help="Most gradient steps of latent inversion when no posterior sample decodes back to the molecule (0: none; default 200). Failing both, the closest decoding found is used.")


def _check_outputs(output: Path, image: Optional[Path], seed: int) -> None:
    from molvae.data import check_output_path

    check_output_path(output, allowed=(".csv",), flag="-o")
    if image is not None:
        check_output_path(image, allowed=(".png",), flag="--image")
    check_seed(seed)


def _check_radius(value: float, flag: str) -> None:
    """Refuse a latent noise scale that is not > 0, or so large that points overflow float32
    (inf included: it was told it 'must be > 0')."""
    import math

    from molvae.interpolation import MAX_RADIUS

    if not (math.isfinite(value) and 0 < value <= MAX_RADIUS):
        fail(f"{flag} must be a number > 0 and <= {MAX_RADIUS:g} (latent points are float32), got {value}")


def _encode_or_explain(vae, text: str, role: str) -> str:
    """Resolve a name or SMILES and check the model can encode it; one clear error otherwise.

    Coverage is checked fragment by fragment (:func:`molvae.drugs.missing_tokens`), so a
    metal in a small fragment (cisplatin) is named instead of silently standardized away.
    """
    from molvae.alphabet import SequenceTooLongError
    from molvae.chem import InvalidMoleculeError
    from molvae.drugs import missing_tokens, resolve_molecule

    smiles, name = resolve_molecule(text)
    label = f"{name} ({smiles})" if name else smiles
    try:  # RDKit reads '*C', selfies does not: the error named neither the role nor the cause
        missing = missing_tokens(vae, smiles)
        if missing:
            fail(f"{role} {label} cannot be encoded: token{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in the model's alphabet")
        vae.tokenize(smiles)
    except SequenceTooLongError as exc:
        fail(f"{role} {label} cannot be encoded: {exc.length} SELFIES tokens, more than the model's maximum of {exc.max_length}")
    except InvalidMoleculeError as exc:
        fail(f"{role} {label} cannot be encoded: {exc}")
    return smiles


@app.command()
def interpolate(
    start: str = typer.Argument(..., help="Start: drug name (see `molvae drugs`) or SMILES."),
    end: str = typer.Argument(..., help="End: drug name or SMILES."),
    steps: int = typer.Option(10, "--steps", "-k", help="Points on the path, both ends included."),
    output: Path = typer.Option(..., "-o", "--output", help="Path table (.csv)."),
    method: str = typer.Option("slerp", help="slerp (default), linear, or geodesic: the slerp path bent towards a geodesic of the decoder's output distributions (about 10 s for 10 steps; at most 1,000 steps)."),
    image: Optional[Path] = typer.Option(None, "--image", help="Draw the path as a PNG grid, 6 steps a row (at most 50 steps, evenly spaced, both ends kept)."),
    model: Optional[Path] = MODEL_OPTION,
    predictor: Optional[Path] = typer.Option(None, "--predictor", help="Add predicted properties from a predictor file (.skops)."),
    anchor_samples: Optional[int] = ANCHOR_OPTION,
    invert_steps: Optional[int] = INVERT_OPTION,
    guide: int = typer.Option(0, "--guide", help="Guided path: decode this many latent points around each interior step and keep the molecule closest to (1-t)*sim(start) + t*sim(end); 0 (default) decodes the path points themselves; at most 100,000."),
    guide_radius: float = typer.Option(0.5, "--guide-radius", help="Latent noise scale of --guide points."),
    seed: int = typer.Option(0, help="Random seed (posterior samples of the ends, --guide points)."),
    refine_steps: int = typer.Option(0, "--refine-steps", help="Move each end's anchor this many gradient steps further up the model's likelihood of its molecule (kept while it still decodes to it) before walking; 0 (default): walk between the anchors."),
):
    """Walk the latent space from one molecule to another and decode each step."""

    def _run():
        from molvae.interpolation import ANCHOR_SAMPLES, GEODESIC_ITERATIONS, INVERT_STEPS, MAX_ANCHOR_SAMPLES, MAX_GEODESIC_STEPS, MAX_GUIDE, MAX_STEPS, METHODS
        from molvae.interpolation import interpolate as run
        from molvae.data import write_atomically  # the table all at once or not at all

        _check_outputs(output, image, seed)
        if method not in METHODS:
            fail(f"--method must be {', '.join(METHODS[:-1])} or {METHODS[-1]}, got {method!r}")
        if not 2 <= steps <= MAX_STEPS:
            fail(f"--steps must be between 2 and {MAX_STEPS}, got {steps}")
        if method == "geodesic" and steps > MAX_GEODESIC_STEPS:
            fail(f"--steps must be at most {MAX_GEODESIC_STEPS:,} with --method geodesic, got {steps}")
        if anchor_samples is not None and not 0 <= anchor_samples <= MAX_ANCHOR_SAMPLES:
            fail(f"--anchor-samples must be between 0 and {MAX_ANCHOR_SAMPLES}, got {anchor_samples}")
        if invert_steps is not None and invert_steps < 0:
            fail(f"--invert-steps must be >= 0, got {invert_steps}")
        if not 0 <= guide <= MAX_GUIDE:
            fail(f"--guide must be between 0 and {MAX_GUIDE:,}, got {guide}")
        if refine_steps < 0:
            fail(f"--refine-steps must be >= 0, got {refine_steps}")
        _check_radius(guide_radius, "--guide-radius")
        vae = load_model(model)
        pred = load_predictor(predictor, vae)
        a = _encode_or_explain(vae, start, "start")
        b = _encode_or_explain(vae, end, "end")
        # only a geodesic path takes long enough to report on (its Adam steps)
        with progress_bar("bending the path", total=GEODESIC_ITERATIONS) if method == "geodesic" else contextlib.nullcontext() as update:
            path = run(vae, a, b, steps, method, anchor_samples=ANCHOR_SAMPLES if anchor_samples is None else anchor_samples, invert_steps=INVERT_STEPS if invert_steps is None else invert_steps, seed=seed, guide=guide, guide_radius=guide_radius, refine_steps=refine_steps, progress=update)
        df = add_predictions(path, pred, vae)
        # t to 6 digits: at 4, as the other numbers, neighbouring steps of a path of over 10,000 shared a t
        table = df.assign(t=[f"{t:.6g}" for t in df["t"]])
        write_atomically(output, lambda tmp: table.to_csv(tmp, index=False, float_format="%.4g"))
        # with --anchor-samples 0 an end is its posterior mean, unsearched: not "the closest decoding found"
        where = "its posterior mean's decoding (--anchor-samples 0)" if anchor_samples == 0 else "the closest decoding found"
        for side in ("start", "end"):
            if not df.attrs[f"{side}_reconstructed"]:
                console.print(f"note: the model does not reconstruct the {side} molecule {df.attrs[side]}; the path {'starts' if side == 'start' else 'ends'} at {where}")
        kind = f" (guided, {guide} points per step)" if guide and steps > 2 else ""  # 2 steps: no interior step to guide
        distinct = df.attrs["distinct"]
        console.print(f"{steps} steps{kind}, {distinct} distinct {plural(distinct, 'molecule')}; wrote {output}")
        if image is not None:
            from molvae.draw import MAX_DRAWN, grid_image, spread_indices

            legends = [f"t={t:.2f}  sim {s:.2f}/{e:.2f}" for t, s, e in zip(df["t"], df["tanimoto_to_start"], df["tanimoto_to_end"])]
            shown = spread_indices(len(df), MAX_DRAWN)  # a long path: evenly spaced steps, both ends kept
            grid_image([df["smiles"].iloc[i] for i in shown], image, legends=[legends[i] for i in shown], per_row=min(len(shown), 6))
            if len(shown) < len(df):
                console.print(f"note: drew {len(shown)} of the {len(df)} steps in {image}, evenly spaced, both ends included")
            console.print(f"wrote {image}")

    run_guarded(_run)


@app.command()
def analogs(
    query: str = typer.Argument(..., help="Drug name or SMILES."),
    n: int = typer.Option(20, "-n", "--number", help="Analogues to return, 1 to 1,000,000."),
    output: Path = typer.Option(..., "-o", "--output", help="Analogue table (.csv)."),
    radius: Optional[float] = typer.Option(None, help="Latent noise scale (default 0.5); use --posterior-sigma for the posterior's."),
    posterior_sigma: bool = typer.Option(False, "--posterior-sigma", help="Scale the noise by the posterior standard deviation."),
    seed: int = typer.Option(0, help="Random seed."),
    image: Optional[Path] = typer.Option(None, "--image", help="Draw the analogues as a PNG grid."),
    model: Optional[Path] = MODEL_OPTION,
    predictor: Optional[Path] = typer.Option(None, "--predictor", help="Add predicted properties from a predictor file (.skops)."),
    anchor_samples: Optional[int] = ANCHOR_OPTION,
    invert_steps: Optional[int] = INVERT_OPTION,
    refine_steps: Optional[int] = typer.Option(None, "--refine-steps", help="Gradient steps that move the centre further up the model's likelihood of the query once it decodes back to it (0: draw around the anchor itself; default 50)."),
):
    """Sample the latent neighbourhood of a molecule; rank distinct decodings by Tanimoto similarity."""

    def _run():
        from molvae.interpolation import ANCHOR_SAMPLES, DEFAULT_RADIUS, INVERT_STEPS, MAX_ANALOGS, MAX_ANCHOR_SAMPLES, REFINE_STEPS, analog_pool
        from molvae.interpolation import analogs as run
        from molvae.data import write_atomically

        _check_outputs(output, image, seed)
        if not 1 <= n <= MAX_ANALOGS:
            fail(f"-n must be between 1 and {MAX_ANALOGS:,}, got {n}")
        if radius is not None:
            _check_radius(radius, "--radius")
        if anchor_samples is not None and not 0 <= anchor_samples <= MAX_ANCHOR_SAMPLES:
            fail(f"--anchor-samples must be between 0 and {MAX_ANCHOR_SAMPLES}, got {anchor_samples}")
        if invert_steps is not None and invert_steps < 0:
            fail(f"--invert-steps must be >= 0, got {invert_steps}")
        if refine_steps is not None and refine_steps < 0:
            fail(f"--refine-steps must be >= 0, got {refine_steps}")
        if posterior_sigma and radius is not None:
            fail("give either --radius or --posterior-sigma, not both")
        vae = load_model(model)
        pred = load_predictor(predictor, vae)
        q = _encode_or_explain(vae, query, "query")
        with progress_bar("decoding neighbours", total=analog_pool(n)) as update:
            found = run(vae, q, n, None if posterior_sigma else (radius or DEFAULT_RADIUS), seed=seed, anchor_samples=ANCHOR_SAMPLES if anchor_samples is None else anchor_samples, invert_steps=INVERT_STEPS if invert_steps is None else invert_steps, refine_steps=REFINE_STEPS if refine_steps is None else refine_steps, progress=update)
        df = add_predictions(found, pred, vae)
        write_atomically(output, lambda tmp: df.to_csv(tmp, index=False, float_format="%.4g"))
        median = f"{float(df['tanimoto'].median()):.3f}" if len(df) else "n/a"
        console.print(f"{len(df)} {plural(len(df), 'analogue')} of {df.attrs['query']} from {df.attrs['draws']} draws, median Tanimoto {median}; wrote {output}")
        if not df.attrs["query_reconstructed"]:  # as interpolate says of an end
            where = "its posterior mean's decoding (--anchor-samples 0)" if anchor_samples == 0 else "the closest decoding found"
            console.print(f"note: the model does not reconstruct the query {df.attrs['query']}; the analogues are drawn around {where}, {df.attrs['centre'] or '(invalid)'}")
        if image is not None:
            from molvae.draw import MAX_DRAWN, grid_image

            grid_image([df.attrs["query"], *df["smiles"]], image, legends=["query", *[f"sim {s:.2f}" for s in df["tanimoto"]]])
            if len(df) + 1 > MAX_DRAWN:
                console.print(f"note: drew the query and the {MAX_DRAWN - 1} most similar of the {len(df)} analogues in {image}")
            console.print(f"wrote {image}")

    run_guarded(_run)
