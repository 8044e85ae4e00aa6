"""Synthetic person images of visible and infrared cameras.

The painter behind :func:`mmvireid.testing.make_synthetic_vireid`: it draws
identities, cameras and poses from a numpy Generator and renders images; the
layout writers decide which identity is seen by which camera.

Each identity is a drawn person whose identity lives in **shape, layout and
texture, not colour**: body proportions (head, torso, legs, shoulder and hip
widths), sleeve length, trousers / shorts / skirt, hair length, a bag on a
fixed side and a garment texture (stripes of some orientation and frequency,
checks, dots or plain) on the top and the bottom. Visible images paint the
garments with a colour scheme drawn from a small palette shared by many ids;
infrared images paint each garment with the luminance of its visible colour
(skin is hot), as grey replicated to 3 channels: the hue is lost, the grey
structure is shared.
Every image varies the pose (position, scale, lean, leg spread, arm swing),
the background (gradient, smooth noise, clutter) and the per-camera
illumination (colour cast and gain, IR offset, noise and blur).

Every value is a deterministic function of the Generator's state, so the
order of the ``draw_*`` and :func:`render` calls fixes the images.

Example:
    >>> import numpy as np
    >>> from mmvireid.structures import IR, RGB
    >>> rng = np.random.default_rng(0)
    >>> person = draw_person(rng, draw_colour_schemes(rng))
    >>> pose = draw_pose(rng)
    >>> rgb = render(rng, person, pose, draw_camera(rng, RGB), (128, 64))
    >>> ir = render(rng, person, pose, draw_camera(rng, IR), (128, 64))
    >>> rgb.shape, rgb.dtype
    ((128, 64, 3), dtype('uint8'))
"""
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Sequence, Tuple

import numpy as np
from scipy import ndimage

from mmvireid.structures import IR, RGB

# Garment colours (RGB in [0, 1]) shared by all identities.
PALETTE = np.array([
    [0.10, 0.10, 0.12],  # black
    [0.88, 0.88, 0.85],  # white
    [0.72, 0.14, 0.14],  # red
    [0.12, 0.18, 0.45],  # navy
    [0.70, 0.64, 0.44],  # khaki
    [0.20, 0.42, 0.24],  # green
    [0.50, 0.50, 0.52],  # grey
], dtype=np.float32)
SKIN_TONES = np.array([[0.95, 0.80, 0.68], [0.82, 0.62, 0.48],
                       [0.60, 0.42, 0.30], [0.40, 0.27, 0.19]],
                      dtype=np.float32)
HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.35, 0.22, 0.12],
                         [0.70, 0.58, 0.35]],
                        dtype=np.float32)
#: Number of RGB colour schemes (:func:`draw_colour_schemes`); each identity
#: wears one of them, so many identities share their colours.
NUM_COLOUR_SCHEMES = 6
TOP_TEXTURES = ('plain', 'hstripes', 'vstripes', 'diagonal', 'checks', 'dots')
BOTTOM_TEXTURES = ('plain', 'plain', 'hstripes', 'vstripes', 'checks')
#: ITU-R BT.601 luma weights.
LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# Codes of the part map; a look-up table per modality turns it into pixels.
BG, SKIN, HAIR, TOP_A, TOP_B, BOTTOM_A, BOTTOM_B, SHOE, BAG = range(9)


@dataclass
class Person:
    """An identity (:func:`draw_person`): body proportions in units of the
    person height, clothes, and a colour look-up table per modality."""
    head: float
    torso: float
    shoulder: float
    hip: float
    leg: float
    arm: float
    sleeve: float
    bottom_kind: str  # 'trousers', 'shorts' or 'skirt'
    long_hair: bool
    bag_side: int
    bag_size: Tuple[float, float]
    top_texture: Tuple[str, float, float, float]
    bottom_texture: Tuple[str, float, float, float]
    rgb_lut: np.ndarray  # (3, 9): colour of each part code
    ir_lut: np.ndarray  # (1, 9): IR intensity of each part code


@dataclass
class Camera:
    """A camera (:func:`draw_camera`): scene and illumination; arrays have
    C = 3 (RGB) or 1 (IR) entries."""
    modality: int
    gain: np.ndarray
    offset: float
    noise: float
    blur: float
    scale: float
    horizon: float
    wall: np.ndarray
    floor: np.ndarray


@lru_cache(maxsize=4)
def _grid(img_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(yy, xx)`` in [0, 1], each (H, W)."""
    h, w = img_size
    yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w,
                         indexing='ij')
    return yy.astype(np.float32), xx.astype(np.float32)


@lru_cache(maxsize=4)
def _upsampler(img_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Linear interpolation matrices (H, 8) and (W, 4): ``R @ X @ C.T``
    upsamples a coarse (8, 4) noise map to (H, W) in two small matmuls."""

    def linear(n: int, k: int) -> np.ndarray:
        pos = np.clip((np.arange(n) + 0.5) * k / n - 0.5, 0, k - 1)
        return np.clip(1 - np.abs(pos[:, None] - np.arange(k)), 0, None)

    return (linear(img_size[0], 8).astype(np.float32),
            linear(img_size[1], 4).astype(np.float32))


def _draw_texture(rng: np.random.Generator,
                  kinds: Sequence[str]) -> Tuple[str, float, float, float]:
    """Texture kind, frequency (cycles per person height), diagonal
    direction (+-1) and phase."""
    return (str(rng.choice(kinds)), rng.uniform(7, 14),
            float(rng.choice([-1, 1])), rng.uniform(0, 2 * math.pi))


def draw_colour_schemes(rng: np.random.Generator) -> np.ndarray:
    """Draw the colour schemes the identities share.

    Returns:
        np.ndarray: (NUM_COLOUR_SCHEMES, 5) int, indices into
        :data:`PALETTE` of top A / B, bottom A / B and bag, distinct within a
        scheme.
    """
    return np.stack([
        rng.choice(len(PALETTE), 5, replace=False)
        for _ in range(NUM_COLOUR_SCHEMES)
    ])


def draw_person(rng: np.random.Generator, schemes: np.ndarray) -> Person:
    """Draw an identity wearing one of ``schemes`` (S, 5), the palette
    indices of :func:`draw_colour_schemes`."""
    scheme = PALETTE[schemes[rng.integers(len(schemes))]]
    skin_ir = rng.uniform(0.85, 0.97)
    # SHOE is dark in both modalities; the bag takes the scheme's last colour.
    rgb_lut = np.stack([
        np.zeros(3), SKIN_TONES[rng.integers(len(SKIN_TONES))],
        HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], scheme[0], scheme[1],
        scheme[2], scheme[3], PALETTE[0] * 0.8, scheme[4]
    ])
    # Near-IR reflectance of a garment is taken to follow its visible
    # luminance (dark dyes stay dark): an IR image shows the grey structure
    # of the visible one, not its hues. Skin is hot, hair mid-grey.
    ir_lut = np.concatenate([[0., skin_ir, rng.uniform(0.25, 0.45)],
                             rgb_lut[TOP_A:] @ LUMINANCE])
    return Person(
        head=rng.uniform(0.11, 0.15),
        torso=rng.uniform(0.26, 0.36),
        shoulder=rng.uniform(0.08, 0.13),
        hip=rng.uniform(0.065, 0.1),
        leg=rng.uniform(0.03, 0.055),
        arm=rng.uniform(0.022, 0.035),
        sleeve=float(rng.choice([0.35, 1.0])),
        bottom_kind=str(
            rng.choice(['trousers', 'shorts', 'skirt'], p=[0.6, 0.2, 0.2])),
        long_hair=rng.random() < 0.35,
        bag_side=int(rng.choice([0, -1, 1])),
        bag_size=(rng.uniform(0.06, 0.1), rng.uniform(0.09, 0.16)),
        top_texture=_draw_texture(rng, TOP_TEXTURES),
        bottom_texture=_draw_texture(rng, BOTTOM_TEXTURES),
        rgb_lut=np.ascontiguousarray(rgb_lut.T, dtype=np.float32),
        ir_lut=ir_lut[None].astype(np.float32))


def draw_camera(rng: np.random.Generator, modality: int) -> Camera:
    """Draw a camera's scene (wall, floor, horizon), person scale and
    illumination: a colour cast for RGB; gain, offset, noise, blur for IR."""
    channels = 3 if modality == RGB else 1
    if modality == RGB:
        gain = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.75, 1.1)
        wall, floor = rng.uniform(0.25, 0.85, 3), rng.uniform(0.15, 0.6, 3)
        offset, noise, blur = 0.0, 0.02, 0.0
    else:
        gain = np.full(channels, rng.uniform(0.8, 1.1))
        wall = np.full(channels, rng.uniform(0.1, 0.35))
        floor = np.full(channels, rng.uniform(0.1, 0.35))
        offset, noise = rng.uniform(-0.05, 0.05), rng.uniform(0.02, 0.05)
        blur = rng.uniform(0.4, 0.9)
    return Camera(
        modality=modality,
        gain=gain.astype(np.float32),
        offset=offset,
        noise=noise,
        blur=blur,
        scale=rng.uniform(0.92, 1.05),
        horizon=rng.uniform(0.55, 0.8),
        wall=wall.astype(np.float32),
        floor=floor.astype(np.float32))


def draw_pose(rng: np.random.Generator) -> Dict[str, float]:
    """Per-image pose: shift, height, feet line, lean, legs, arms."""
    return dict(
        shift=rng.uniform(-0.1, 0.1),
        lean=rng.uniform(-0.05, 0.05),
        height=rng.uniform(0.8, 0.9),
        feet=rng.uniform(0.94, 0.99),
        spread=rng.uniform(0.0, 0.18),
        swing=rng.uniform(-0.08, 0.08))


def _texture(spec: Tuple[str, float, float, float], u: np.ndarray,
             v: np.ndarray) -> np.ndarray:
    """Pattern mask (int 0 / 1) of a garment texture on body coordinates."""
    kind, freq, sign, phase = spec
    if kind == 'hstripes':
        pattern = np.sin(2 * np.pi * freq * v + phase) > 0
    elif kind == 'vstripes':
        pattern = np.sin(2 * np.pi * freq * u + phase) > 0
    elif kind == 'diagonal':
        pattern = np.sin(2 * np.pi * freq * (u + sign * v) / np.sqrt(2) +
                         phase) > 0
    elif kind == 'checks':
        pattern = (np.sin(2 * np.pi * freq * u + phase) > 0) ^ \
            (np.sin(2 * np.pi * freq * v + phase) > 0)
    elif kind == 'dots':
        du = np.mod(freq * u + phase / (2 * np.pi), 1.0) - 0.5
        dv = np.mod(freq * v, 1.0) - 0.5
        pattern = du**2 + dv**2 < 0.09
    else:
        pattern = np.zeros(u.shape, dtype=bool)
    return pattern.astype(np.int64)


def _part_map(person: Person, pose: Dict[str, float], camera: Camera,
              img_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Paint the person as a map of part codes plus a shading map.

    Returns:
        tuple: ``(parts, shade)``, int array and float array of shape (H, W).
    """
    h, w = img_size
    height = pose['height'] * camera.scale * h
    cx = w * (0.5 + pose['shift'])
    top = pose['feet'] * h - height
    yy, xx = _grid(img_size)
    v = (yy * h - top) / height
    u = (xx * w - cx) / height - pose['lean'] * (v - 0.5)
    p = person
    shoulder_v = p.head + 0.02
    hip_v = shoulder_v + p.torso
    leg_len = 1.0 - hip_v
    parts = np.zeros((h, w), dtype=np.int64)

    def paint(mask, code):
        nonlocal parts
        parts = np.where(mask, code, parts)

    # Garment code: the first code of the pair, plus 1 on the pattern.
    top_code = TOP_A + _texture(p.top_texture, u, v - shoulder_v)
    bottom_code = BOTTOM_A + _texture(p.bottom_texture, u, v - hip_v)

    head_rx, head_ry = p.head * 0.4, p.head / 2
    head = (u / head_rx)**2 + ((v - head_ry) / head_ry)**2 <= 1
    if p.long_hair:
        paint((np.abs(u) < head_rx * 1.15) & (v > head_ry) &
              (v < shoulder_v + 0.1), HAIR)
    # Legs: two slanted bands from the hips, garment per the bottom kind.
    leg_u = np.abs(u) - (p.hip - p.leg) - pose['spread'] * (v - hip_v)
    legs = (np.abs(leg_u) <= p.leg) & (v >= hip_v) & (v <= 1.0)
    cover = {'trousers': 0.95, 'shorts': 0.4, 'skirt': 0.0}[p.bottom_kind]
    paint(legs, SKIN)
    paint(legs & (v < hip_v + cover * leg_len), bottom_code)
    pelvis = (np.abs(u) <= p.hip) & (v >= hip_v) & (v < hip_v + 0.05)
    paint(pelvis, bottom_code)
    if p.bottom_kind == 'skirt':
        flare = p.hip * (1 + 0.6 * (v - hip_v) / (0.45 * leg_len))
        skirt = (np.abs(u) <= flare) & (v >= hip_v) & \
            (v < hip_v + 0.45 * leg_len)
        paint(skirt, bottom_code)
    paint(legs & (v > 0.965), SHOE)
    # Arms: bands beside the torso, swung by the pose, sleeves then hands.
    arm_len = p.torso * 1.05
    arm_u = np.abs(u) - (p.shoulder + p.arm) - pose['swing'] * np.sign(u) * \
        (v - shoulder_v)
    arms = (np.abs(arm_u) <= p.arm) & (v >= shoulder_v) & \
        (v <= shoulder_v + arm_len)
    paint(arms, SKIN)
    paint(arms & (v < shoulder_v + p.sleeve * arm_len), top_code)
    # Torso: a trapezoid from shoulder to hip width, shaded as a cylinder.
    half = p.shoulder + (p.hip - p.shoulder) * (v - shoulder_v) / p.torso
    torso = (np.abs(u) <= half) & (v >= shoulder_v) & (v < hip_v)
    paint(torso, top_code)
    shade = np.where(torso, 1 - 0.3 * (u / half)**2, np.float32(1))
    neck = (np.abs(u) < head_rx * 0.45) & (v > p.head * 0.9) & \
        (v < shoulder_v)
    paint(neck | head, SKIN)
    paint(head & (v < head_ry * 0.8), HAIR)
    if p.bag_side:
        bag_w, bag_h = p.bag_size
        inner = p.shoulder + 2 * p.arm
        bag_u = p.bag_side * u
        bag_v = hip_v - 0.06
        paint((bag_u >= inner) & (bag_u <= inner + bag_w) & (v >= bag_v) &
              (v <= bag_v + bag_h), BAG)
        # Strap from the opposite shoulder to the bag's top corner.
        ax, ay = -p.shoulder * 0.6, shoulder_v
        dx, dy = inner - ax, bag_v - ay
        t = np.clip(((bag_u - ax) * dx + (v - ay) * dy) / (dx**2 + dy**2), 0,
                    1)
        paint(np.hypot(bag_u - ax - t * dx, v - ay - t * dy) < 0.008, BAG)
    return parts, shade


def _background(rng: np.random.Generator, camera: Camera,
                img_size: Tuple[int, int]) -> np.ndarray:
    """Wall and floor with a gradient, smooth noise and clutter.

    Returns:
        np.ndarray: (C, H, W) float32, C = 3 (RGB) or 1 (IR).
    """
    # Channel-first throughout: broadcasting over a trailing axis of 3 is
    # several times slower in numpy than over a trailing axis of W.
    yy, xx = _grid(img_size)
    bg = np.where(yy > camera.horizon, camera.floor[:, None, None],
                  camera.wall[:, None, None])
    angle = rng.uniform(0, 2 * math.pi)
    ramp = math.cos(angle) * (xx - 0.5) + math.sin(angle) * (yy - 0.5)
    rows, cols = _upsampler(img_size)
    coarse = 0.06 * rng.standard_normal((rows.shape[1], cols.shape[1]),
                                        dtype=np.float32)
    bg = bg + (0.15 * ramp + rows @ coarse @ cols.T)
    for _ in range(rng.integers(1, 4)):
        x0, y0 = rng.uniform(-0.2, 1.0), rng.uniform(-0.2, 0.8)
        box = (xx >= x0) & (xx < x0 + rng.uniform(0.05, 0.35)) & \
            (yy >= y0) & (yy < y0 + rng.uniform(0.1, 0.6))
        value = PALETTE[rng.integers(len(PALETTE))] \
            if camera.modality == RGB else \
            np.full(1, rng.uniform(0.1, 0.6), dtype=np.float32)
        bg = np.where(box, value[:, None, None], bg)
    return bg


def render(rng: np.random.Generator, person: Person, pose: Dict[str, float],
           camera: Camera, img_size: Tuple[int, int]) -> np.ndarray:
    """One image of ``person`` in ``pose`` seen by ``camera``.

    Draws the background, a brightness jitter and the sensor noise from
    ``rng``. IR images are one grey channel replicated to R == G == B.

    Args:
        rng (np.random.Generator): Source of the per-image randomness.
        person (Person): The identity (:func:`draw_person`).
        pose (dict): The pose (:func:`draw_pose`).
        camera (Camera): The camera (:func:`draw_camera`).
        img_size (tuple[int, int]): (H, W).

    Returns:
        np.ndarray: uint8 image of shape (H, W, 3).
    """
    parts, shade = _part_map(person, pose, camera, img_size)
    if camera.modality == RGB:
        lut, jitter = person.rgb_lut, rng.uniform(0.85, 1.15)
    else:
        lut, jitter = person.ir_lut, rng.uniform(0.9, 1.1)
    body = np.take(lut, parts, axis=1) * (shade * jitter)
    img = np.where(parts == BG, _background(rng, camera, img_size), body)
    img = img * camera.gain[:, None, None] + camera.offset
    if camera.modality == IR:
        img = ndimage.gaussian_filter(img, (0, camera.blur, camera.blur))
    # Sensor noise shared by the channels; uniform with std camera.noise
    # (numpy's uniform draws are several times cheaper than its normal ones).
    img = img + camera.noise * math.sqrt(12) * (
        rng.random(img.shape[1:], dtype=np.float32) - 0.5)
    img = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return np.ascontiguousarray(
        np.broadcast_to(img, (3, ) + img.shape[1:]).transpose(1, 2, 0))
