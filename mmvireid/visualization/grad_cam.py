"""Grad-CAM of a ReID feature: where in an image the feature comes from."""
from typing import Optional

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def grad_cam(model: nn.Module,
             inputs: torch.Tensor,
             modality: Optional[torch.Tensor] = None,
             target: Optional[torch.Tensor] = None,
             layer: Optional[str] = None) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., ICCV 2017) of the retrieval feature.

    A ReID model has no class score to explain, so the score is the match
    the ranking uses: ``cos(f, t)`` of the image's retrieval feature ``f``
    (``model.head.pre_logits`` of ``model.extract_feat``, no flip) and a
    target feature ``t`` (e.g. of a gallery image), or, without a target,
    the norm ``||f||`` (what builds the feature at all; the cosine of ``f``
    with itself has no gradient). For the activation ``A`` (C, h, w) of
    ``layer``, each channel is weighted by the spatial mean of the score's
    gradient, ``cam = ReLU(Σ_c w_c A_c)``, upsampled bilinearly to the
    input and scaled to [0, 1] per image. mmpretrain's ``vis_cam.py`` needs
    the ``grad-cam`` package and a classifier's score; this needs neither.
    The model is run in eval mode and given back in the mode it came in.

    Args:
        model (nn.Module): A :class:`VIReID` (``extract_feat``,
            ``head.pre_logits``).
        inputs (Tensor): Normalised images, (N, 3, H, W), as
            :func:`mmvireid.apis.prepare_batch` gives them.
        modality (Tensor, optional): (N,) modality of every image.
        target (Tensor, optional): Target features, (N, D) or (D,).
            Defaults to None (the feature norm).
        layer (str, optional): Name of the module whose output is explained
            (``model.get_submodule``; a tuple output: its last element),
            e.g. ``'backbone.shared.layer3'``. Defaults to the backbone's
            last output.

    Returns:
        Tensor: (N, H, W) float in [0, 1] on the inputs' device.

    Raises:
        ValueError: If the layer's output is not an (N, C, h, w) map (e.g.
            the tokens of a transformer), or ``layer`` is unknown.

    Example:
        >>> batch = prepare_batch(model, 'query.jpg', 'ir')
        >>> gallery = inference_model(model, 'match.jpg', 'rgb')
        >>> cam = grad_cam(model, batch['inputs'], batch['modality'],
        ...                target=gallery)
    """
    try:
        module = model.backbone if layer is None else model.get_submodule(
            layer)
    except AttributeError as error:
        raise ValueError(f'grad_cam: the model has no module {layer!r}: '
                         f'{error}') from None
    captured = {}

    def keep(_, __, output):
        activation = output[-1] if isinstance(output, (tuple, list)) \
            else output
        if not isinstance(activation, torch.Tensor) or activation.dim() != 4:
            raise ValueError(
                f'grad_cam: the output of {layer or "the backbone"} must be '
                'an (N, C, h, w) feature map, got '
                f'{getattr(activation, "shape", type(activation).__name__)}'
                '; name a convolutional layer with layer=')
        activation.retain_grad()
        captured['activation'] = activation

    was_training = model.training
    model.eval()
    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            # the inputs need a gradient when the weights are frozen
            feature = model.head.pre_logits(
                model.extract_feat(inputs.detach().requires_grad_(True),
                                   modality))
            if target is None:
                score = feature.norm(dim=1)
            else:
                score = F.cosine_similarity(
                    feature, target.to(feature).expand_as(feature), dim=1)
            activation = captured['activation']
            score.sum().backward()
    finally:
        handle.remove()
        model.train(was_training)
    weights = activation.grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=inputs.shape[2:], mode='bilinear',
                        align_corners=False)[:, 0]
    peak = cam.flatten(1).max(dim=1)[0].clamp_min(1e-12)
    model.zero_grad(set_to_none=True)
    return cam / peak[:, None, None]


def overlay_cam(image: np.ndarray, cam: np.ndarray,
                alpha: float = 0.5) -> np.ndarray:
    """A CAM as a jet heat map over its image.

    Args:
        image (np.ndarray): RGB uint8 (H, W, 3).
        cam (np.ndarray): (h, w) in [0, 1]; resized to (H, W).
        alpha (float): Weight of the heat map. Defaults to 0.5.

    Returns:
        np.ndarray: RGB uint8 (H, W, 3).
    """
    from matplotlib import colormaps
    cam = mmcv.imresize(np.asarray(cam, dtype=np.float32),
                        (image.shape[1], image.shape[0]))
    heat = colormaps['jet'](np.clip(cam, 0, 1))[..., :3] * 255
    return np.clip((1 - alpha) * image + alpha * heat, 0,
                   255).astype(np.uint8)
