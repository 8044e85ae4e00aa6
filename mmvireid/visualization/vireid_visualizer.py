"""Visualizer of VI-ReID ranked lists."""
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmengine.visualization import Visualizer

from mmvireid.registry import VISUALIZERS


@VISUALIZERS.register_module()
class VIReIDVisualizer(Visualizer):
    """MMEngine visualizer that draws a query and its ranked gallery.

    One row: the query (framed blue) and its top-k gallery images, each
    resized to ``img_size``, framed green when it has the query's id and red
    otherwise, with its rank and distance (and an optional caption) below;
    a header line above the row. Frames and text are drawn with MMEngine's
    :meth:`draw_bboxes` / :meth:`draw_texts`.

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        vis_backends (list[dict], optional): MMEngine visualization backends
            (e.g. ``LocalVisBackend``, ``TensorboardVisBackend``) that
            :meth:`add_image` writes to. Defaults to None.
        save_dir (str, optional): Root of the backends' files. Defaults to
            None.
        img_size (tuple[int, int]): (H, W) of every thumbnail. Defaults to
            (192, 96).

    Example:
        >>> visualizer = dict(type='VIReIDVisualizer', name='ranked_lists',
        ...                   img_size=(192, 96),
        ...                   vis_backends=[dict(type='LocalVisBackend')])
        >>> vis = VISUALIZERS.build(visualizer)
        >>> row = vis.visualize_ranked_list(query_img, gallery_imgs,
        ...                                 matches, distances,
        ...                                 out_file='q0.png')
    """

    #: Frame colours (RGB, 0-255).
    QUERY_COLOR = (40, 90, 220)
    MATCH_COLOR = (0, 170, 0)
    MISMATCH_COLOR = (220, 0, 0)
    #: Frame of a gallery image whose identity is unknown (``matches=None``).
    UNKNOWN_COLOR = (140, 140, 140)
    TEXT_COLOR = (0, 0, 0)
    #: Width of an average character relative to the font height (DejaVu
    #: Sans, matplotlib's default), to fit captions and the header.
    CHAR_WIDTH = 0.62

    def __init__(self,
                 name: str = 'visualizer',
                 vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None,
                 img_size: Tuple[int, int] = (192, 96),
                 **kwargs) -> None:
        super().__init__(name=name,
                         vis_backends=vis_backends,
                         save_dir=save_dir,
                         **kwargs)
        if len(img_size) != 2 or min(img_size) < 16:
            raise ValueError('VIReIDVisualizer: img_size must be (H, W) of at '
                             f'least 16 pixels each, got {img_size!r}')
        self.img_size = tuple(int(s) for s in img_size)

    def _layout(self, num_gallery: int, captions: Sequence[str],
                header: str) -> dict:
        """Pixel geometry of a row of the query and ``num_gallery`` items.

        The caption font (at most 1/9 of the thumbnail width, at least 6
        pixels) shrinks until the longest caption fits under its image; the
        row widens when the header is longer than the images.
        """
        height, width = self.img_size
        frame = max(2, width // 32)
        margin = max(4, width // 16)
        cell_w, cell_h = width + 2 * frame, height + 2 * frame
        longest = max((len(c) for c in captions), default=1)
        font = max(
            6,
            min(max(9, width // 9), int(cell_w / (self.CHAR_WIDTH * longest))))
        header_h = 2 * font if header else 0
        # the query column, a wider gap, then the gallery columns
        x = [margin] + [
            margin + cell_w + 3 * margin + i * (cell_w + margin)
            for i in range(num_gallery)
        ]
        return dict(
            font=font,
            frame=frame,
            margin=margin,
            cell_w=cell_w,
            top=margin + header_h,
            x=x,
            width=max(x[-1] + cell_w + margin,
                      2 * margin + int(self.CHAR_WIDTH * font * len(header))),
            height=margin + header_h + cell_h + int(2.8 * font) + margin)

    def visualize_ranked_list(self,
                              query_img: np.ndarray,
                              gallery_imgs: Sequence[np.ndarray],
                              matches: Optional[Sequence[bool]],
                              distances: Sequence[float],
                              query_text: str = 'query',
                              gallery_texts: Optional[Sequence[str]] = None,
                              header: str = '',
                              show: bool = False,
                              wait_time: float = 0,
                              out_file: Optional[str] = None,
                              name: str = 'ranked_list',
                              step: int = 0) -> np.ndarray:
        """Draw one query and its ranked gallery.

        Args:
            query_img (np.ndarray): Query image, RGB uint8 (H, W, 3).
            gallery_imgs (Sequence[np.ndarray]): The K gallery images in rank
                order, RGB uint8 (H_i, W_i, 3).
            matches (Sequence[bool], optional): Whether each has the query's
                id, (K,); None when identities are unknown (grey frames).
            distances (Sequence[float]): Their distances to the query, (K,).
            query_text (str): Caption under the query. Defaults to
                ``'query'``.
            gallery_texts (Sequence[str], optional): Second caption line of
                each gallery image (e.g. ``'pid 5 cam 1'``). Defaults to None.
            header (str): Line written above the row. Defaults to ``''``.
            show (bool): Show the row in a window. Defaults to False.
            wait_time (float): Seconds to show it. Defaults to 0.
            out_file (str, optional): Write the row to this image file
                instead of the backends. Defaults to None.
            name (str): Image name for the backends. Defaults to
                ``'ranked_list'``.
            step (int): Step for the backends. Defaults to 0.

        Returns:
            np.ndarray: The drawn row, RGB uint8 (H_row, W_row, 3).
        """
        num = len(gallery_imgs)
        lengths = [len(x) for x in (matches, distances, gallery_texts)
                   if x is not None]
        if any(length != num for length in lengths):
            raise ValueError(
                'visualize_ranked_list: matches, distances and gallery_texts '
                'must have one entry per gallery image: got '
                f'{num} images and lengths {lengths}')
        captions = [query_text] + [
            f'#{rank} d={dist:.3f}' for rank, dist in enumerate(distances, 1)
        ]
        geo = self._layout(num, captions + list(gallery_texts or []), header)
        height, width = self.img_size
        frame, top, font = geo['frame'], geo['top'], geo['font']
        canvas = np.full((geo['height'], geo['width'], 3), 255, np.uint8)
        for x, img in zip(geo['x'], [query_img, *gallery_imgs]):
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError('visualize_ranked_list: images must be RGB '
                                 f'(H, W, 3) arrays, got shape {img.shape}')
            canvas[top + frame:top + frame + height,
                   x + frame:x + frame + width] = mmcv.imresize(
                       img, (width, height))
        self.set_image(canvas)

        # Frames centred on the band between the image and the cell border.
        half = frame / 2
        boxes = np.array([[
            x + half, top + half, x + geo['cell_w'] - half,
            top + frame + height + half
        ] for x in geo['x']])
        if matches is None:
            gallery_colors = [self.UNKNOWN_COLOR] * num
        else:
            gallery_colors = [
                self.MATCH_COLOR if m else self.MISMATCH_COLOR
                for m in matches
            ]
        colors = [self.QUERY_COLOR] + gallery_colors
        self.draw_bboxes(boxes,
                         edge_colors=colors,
                         line_widths=frame * 72 / self.dpi,
                         alpha=1.0)

        texts, positions, text_colors = [], [], []
        y = top + 2 * frame + height + font // 3
        for i, (x, caption) in enumerate(zip(geo['x'], captions)):
            texts.append(caption)
            positions.append([x + geo['cell_w'] / 2, y])
            text_colors.append(self.TEXT_COLOR if i == 0 or matches is None
                               else colors[i])
        for x, caption in zip(geo['x'][1:], gallery_texts or []):
            texts.append(caption)
            positions.append([x + geo['cell_w'] / 2, y + 1.3 * font])
            text_colors.append(self.TEXT_COLOR)
        if header:
            texts.append(header)
            positions.append([geo['margin'], geo['margin']])
            text_colors.append(self.TEXT_COLOR)
        self.draw_texts(texts,
                        np.array(positions),
                        font_sizes=font * 72 / self.dpi,
                        colors=text_colors,
                        horizontal_alignments=['center'] *
                        (len(texts) - bool(header)) + ['left'] * bool(header),
                        vertical_alignments='top')
        drawn = self.get_image()

        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step=step)
        return drawn


def stack_rows(rows: List[np.ndarray]) -> np.ndarray:
    """Ranked-list rows of different widths, one above the other, padded
    white on the right: one picture of several queries.

    Args:
        rows (list[np.ndarray]): RGB uint8 rows (H_i, W_i, 3), e.g. of
            :meth:`VIReIDVisualizer.visualize_ranked_list`.

    Returns:
        np.ndarray: RGB uint8 (ΣH_i, max W_i, 3).
    """
    if not rows:
        raise ValueError('stack_rows: no row given')
    width = max(row.shape[1] for row in rows)
    return np.concatenate([
        np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)),
               constant_values=255) for row in rows
    ])
