import sys, os
sys.path.insert(0, '.')
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
import numpy as np, cv2, skimage
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
r = QSvgRenderer('resources/icons/photomend.svg')
img = QImage(256, 256, QImage.Format.Format_ARGB32); img.fill(0)
p = QPainter(img); r.render(p); p.end(); img.save('resources/icons/photomend.png')
from app.physics.camera_noise import simulate_preset
clean = cv2.imread(os.path.join(os.path.dirname(skimage.__file__), 'data', 'astronaut.png'))[:, :, ::-1].astype(np.float32) / 255
noisy = simulate_preset(clean, 'iso3200', jpeg_quality=None, rng=np.random.default_rng(2026))
cv2.imwrite('resources/samples/astronaut_noisy.jpg', np.round(noisy[:, :, ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 92])
cv2.imwrite('resources/samples/astronaut_clean.png', np.round(clean[:, :, ::-1] * 255).astype(np.uint8))
print('ok')
from app.physics.blur import blur
from app.physics.kernels import motion_kernel
blurred = blur(clean, motion_kernel(21, 30), mode="same") + np.random.default_rng(7).standard_normal(clean.shape).astype(np.float32) * 1.5 / 255
cv2.imwrite('resources/samples/astronaut_blurred.jpg', np.round(np.clip(blurred, 0, 1)[:, :, ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
print('blurred ok')
