"""A ReID model's retrieval feature as a module's forward."""
import torch
import torch.nn as nn


class RetrievalGraph(nn.Module):
    """``VIReID.retrieval_feat`` as ``forward(inputs, modality)``.

    The computation a deployed model runs, in the form graph capture
    (``torch.export``, ``torch.onnx.export``) and FLOP counters take: a
    module whose forward maps tensors to a tensor. It holds the model (no
    copy): the head's retrieval feature of every image, neither
    flip-averaged nor L2-normalised; the preprocessing (BGR to RGB, mean and
    std) and those two steps are the caller's (``docs/en/deployment.md``).

    Args:
        model (VIReID): The ReID model, in eval mode for inference.

    Shapes:
        - inputs: ``inputs`` (N, 3, H, W) float, preprocessed;
          ``modality`` (N,) long, 0 (RGB) or 1 (IR).
        - output: (N, D).

    Example:
        >>> graph = RetrievalGraph(model.eval())
        >>> program = torch.onnx.export(graph, (images, modality),
        ...                             dynamo=True)
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor,
                modality: torch.Tensor) -> torch.Tensor:
        return self.model.retrieval_feat(inputs, modality)
