"""Makes the benchmark's pictures with Pillow: pictures.py DIR — a photo-like JPEG of at most
5 MiB (with EXIF, as a phone's) and a 40-megapixel JPEG (7744 × 5164)."""
import os
import sys

from PIL import Image, ImageFilter

out = sys.argv[1]


def photo(width, height, seed):
    # Noise, blurred: compresses like a photograph, not like a flat colour.
    noise = Image.effect_noise((width // 4, height // 4), 64).convert("L")
    base = Image.merge("RGB", (noise, noise.rotate(90, expand=False), noise.transpose(Image.FLIP_LEFT_RIGHT)))
    return base.resize((width, height), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1))


exif = Image.Exif()
exif[0x010F] = "BenchCamera"
exif[0x0112] = 6


def save_within_5_mib(picture, path):
    for quality in (97, 95, 92, 90, 85, 80, 70, 60, 50, 40):
        picture.save(path, quality=quality, exif=exif)
        if os.path.getsize(path) <= 5 * 1048576:
            return
    raise SystemExit(f"{path}: over 5 MiB at every quality")


save_within_5_mib(photo(3200, 2400, 1), f"{out}/upload.jpg")
# As large as a profile upload may be in both ways: 40 megapixels within 5 MiB.
save_within_5_mib(photo(7744, 5164, 2).filter(ImageFilter.GaussianBlur(2)), f"{out}/40mp.jpg")
