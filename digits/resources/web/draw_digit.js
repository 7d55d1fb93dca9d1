/* draw_digit.js: draw a digit in the browser and watch the course's own model read it.
 *
 * No server, no network, no library: everything runs in the page, from the built site opened as
 * files (file://) as well as from the published site.
 *
 * - DrawDigit.prepare(gray, width, height): digits.handwriting.prepare_digit ported step by step
 *   (ink bright on dark, cleaned, cropped, fit into 20 x 20 with Pillow's Lanczos filter, centred
 *   by mass in 28 x 28); `gray` is 0 (black) .. 1 (white), as digits.handwriting.to_grayscale
 *   returns it. Images larger than 400 pixels are not shrunk first as in Python (the pad is 280).
 * - DrawDigit.predict(model, pixels): the forward pass of a Keras Sequential model exported by
 *   digits.drawing_pad (Dense, Conv2D 3x3 "valid", MaxPooling2D 2x2; relu and softmax).
 * - DrawDigit.mount(element): the drawing pad (canvas, the model's 28 x 28 input, the ten
 *   probabilities as bars, the answer, the hidden layers' activations, clear and download).
 *
 * The models are registered before or after this file loads, by scripts that digits.drawing_pad
 * writes: window.DRAW_DIGIT_MODELS[name] = {layers: [...], ...}.
 */
(function (root) {
  "use strict";
  if (root.DrawDigit) return; // loaded twice (two pads on one page): keep the first

  const FRAME_SIZE = 28;
  const BOX_SIZE = 20;
  const CENTRE = 14.0;
  const MIN_CONTRAST = 0.1;
  const INK_THRESHOLD = 0.25;
  const SPECK_FRACTION = 0.05;
  const LUMINANCE = [0.299, 0.587, 0.114].map(Math.fround);
  const f32 = Math.fround; // Python computes in float32: round where it does

  // --- the preparation: digits.handwriting.prepare_digit ---------------------------------------

  /** RGBA bytes (a canvas' ImageData) -> gray 0..1, as digits.handwriting.to_grayscale. */
  function grayFromRGBA(rgba, width, height) {
    const n = width * height;
    const gray = new Float32Array(n);
    let opaque = true;
    for (let i = 0; i < n; i++) {
      const r = f32(rgba[4 * i] / 255);
      const g = f32(rgba[4 * i + 1] / 255);
      const b = f32(rgba[4 * i + 2] / 255);
      gray[i] = f32(f32(f32(r * LUMINANCE[0]) + f32(g * LUMINANCE[1])) + f32(b * LUMINANCE[2]));
      if (rgba[4 * i + 3] < 255) opaque = false;
    }
    if (!opaque) {
      // transparent pixels on a background that contrasts with the opaque ones (_flatten_alpha)
      let sum = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        if (rgba[4 * i + 3] / 255 > 0.5) {
          sum += gray[i];
          count++;
        }
      }
      const background = count === 0 || sum / count < 0.5 ? 1.0 : 0.0;
      for (let i = 0; i < n; i++) {
        const alpha = f32(rgba[4 * i + 3] / 255);
        gray[i] = f32(gray[i] * alpha + background * (1 - alpha));
      }
    }
    for (let i = 0; i < n; i++) gray[i] = Math.min(1, Math.max(0, gray[i]));
    return gray;
  }

  /** scipy.ndimage's "reflect" boundary: d c b a | a b c d | d c b a */
  function reflect(i, n) {
    const period = 2 * n;
    i = ((i % period) + period) % period;
    return i < n ? i : period - 1 - i;
  }

  function median(values) {
    const sorted = Float32Array.from(values).sort();
    const half = sorted.length >> 1;
    return sorted.length % 2 ? sorted[half] : f32((sorted[half - 1] + sorted[half]) / 2);
  }

  /** For each position -before .. length + after - 1 of a line, the index "reflect" reads. */
  function reflectedIndices(length, before, after) {
    const indices = new Int32Array(length + before + after);
    for (let i = 0; i < indices.length; i++) indices[i] = reflect(i - before, length);
    return indices;
  }

  /** scipy.ndimage.gaussian_filter(sigma=1): radius 4, along the columns, then the rows. */
  function gaussian(image, width, height) {
    const radius = 4;
    const weights = new Float64Array(2 * radius + 1);
    let total = 0;
    for (let k = -radius; k <= radius; k++) {
      weights[k + radius] = Math.exp(-0.5 * k * k);
      total += weights[k + radius];
    }
    for (let k = 0; k < weights.length; k++) weights[k] /= total;
    const rows = reflectedIndices(height, radius, radius);
    const columns = reflectedIndices(width, radius, radius);
    const vertical = new Float64Array(image.length); // rounded to float32 into `line`
    for (let y = 0; y < height; y++) {
      const out = y * width;
      for (let k = 0; k < weights.length; k++) {
        const w = weights[k];
        const from = rows[y + k] * width;
        for (let x = 0; x < width; x++) vertical[out + x] += image[from + x] * w;
      }
    }
    const output = new Float32Array(image.length);
    const line = new Float32Array(width + 2 * radius);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let i = 0; i < line.length; i++) line[i] = vertical[row + columns[i]];
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += line[x + k] * weights[k];
        output[row + x] = sum;
      }
    }
    return output;
  }

  /** A min (or max) filter of `size` along one axis, with scipy's origin and "reflect" edges. */
  function minMax1d(input, width, height, size, axis, isMax, origin) {
    const output = new Float32Array(input.length);
    const before = (size >> 1) + origin;
    const after = size - (size >> 1) - 1 - origin;
    const length = axis === 0 ? height : width;
    const lines = axis === 0 ? width : height;
    const step = axis === 0 ? width : 1; // from one element of a line to the next
    const stride = axis === 0 ? 1 : width; // from one line to the next
    const indices = reflectedIndices(length, before, after);
    const n = indices.length;
    const line = new Float32Array(n);
    const forward = new Float32Array(n);
    const backward = new Float32Array(n);
    const sign = isMax ? -1 : 1; // a max filter is a min filter of the negated values
    for (let l = 0; l < lines; l++) {
      const base = l * stride;
      for (let i = 0; i < n; i++) line[i] = sign * input[base + indices[i] * step];
      // van Herk / Gil-Werman: running minima within blocks of `size`, forward and backward
      for (let start = 0; start < n; start += size) {
        const end = Math.min(start + size, n);
        let low = line[start];
        forward[start] = low;
        for (let i = start + 1; i < end; i++) {
          if (line[i] < low) low = line[i];
          forward[i] = low;
        }
        low = line[end - 1];
        backward[end - 1] = low;
        for (let i = end - 2; i >= start; i--) {
          if (line[i] < low) low = line[i];
          backward[i] = low;
        }
      }
      for (let i = 0; i < length; i++) {
        const a = backward[i];
        const b = forward[i + size - 1];
        output[base + i * step] = sign * (a < b ? a : b);
      }
    }
    return output;
  }

  /** scipy.ndimage.grey_opening(image, size=(size, size)): erosion, then dilation. */
  function greyOpening(image, width, height, size) {
    let eroded = minMax1d(image, width, height, size, 0, false, 0);
    eroded = minMax1d(eroded, width, height, size, 1, false, 0);
    const dilationOrigin = size % 2 ? 0 : -1; // scipy mirrors the window of a dilation
    let opened = minMax1d(eroded, width, height, size, 0, true, dilationOrigin);
    opened = minMax1d(opened, width, height, size, 1, true, dilationOrigin);
    return opened;
  }

  /** The level that best splits the values in two (Otsu), as numpy's 256-bin histogram does. */
  function otsuThreshold(values) {
    const bins = 256;
    let first = Infinity;
    let last = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < first) first = v;
      if (v > last) last = v;
    }
    if (first === last) {
      first = f32(first - 0.5);
      last = f32(last + 0.5);
    }
    const step = (last - first) / bins;
    const edges = new Float32Array(bins + 1);
    for (let i = 0; i < bins; i++) edges[i] = i * step + first;
    edges[bins] = last;
    const denominator = f32(last - first);
    const counts = new Float64Array(bins);
    let previous = NaN;
    let index = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== previous) {
        // numpy's bin of v: its float32 arithmetic, then the edges' own correction
        index = Math.trunc(f32(f32(f32(v - first) / denominator) * bins));
        if (index === bins) index--;
        if (v < edges[index]) index--;
        if (v >= edges[index + 1] && index !== bins - 1) index++;
        previous = v;
      }
      counts[index]++;
    }
    let total = 0;
    let totalSum = 0;
    const centres = new Float64Array(bins);
    for (let i = 0; i < bins; i++) {
      centres[i] = f32(f32(edges[i] + edges[i + 1]) / 2);
      total += counts[i];
      totalSum += counts[i] * centres[i];
    }
    let best = -Infinity;
    let threshold = centres[0];
    let weightLow = 0;
    let sumLow = 0;
    for (let i = 0; i < bins; i++) {
      weightLow += counts[i];
      sumLow += counts[i] * centres[i];
      const weightHigh = total - weightLow;
      const meanLow = sumLow / Math.max(weightLow, 1);
      const meanHigh = (totalSum - sumLow) / Math.max(weightHigh, 1);
      const between = weightLow * weightHigh * (meanLow - meanHigh) ** 2;
      if (between > best) {
        best = between;
        threshold = centres[i];
      }
    }
    return threshold;
  }

  /** Erase the blobs (4-connected, as scipy.ndimage.label) smaller than 5% of the largest. */
  function withoutSpecks(mask, width, height) {
    const labels = new Int32Array(mask.length);
    const sizes = [0];
    const stack = [];
    for (let start = 0; start < mask.length; start++) {
      if (!mask[start] || labels[start]) continue;
      const label = sizes.length;
      let size = 0;
      labels[start] = label;
      stack.push(start);
      while (stack.length) {
        const i = stack.pop();
        size++;
        const x = i % width;
        const neighbours = [
          x > 0 ? i - 1 : -1,
          x < width - 1 ? i + 1 : -1,
          i >= width ? i - width : -1,
          i + width < mask.length ? i + width : -1,
        ];
        for (const j of neighbours) {
          if (j >= 0 && mask[j] && !labels[j]) {
            labels[j] = label;
            stack.push(j);
          }
        }
      }
      sizes.push(size);
    }
    let largest = 0;
    for (const size of sizes) largest = Math.max(largest, size);
    const kept = new Uint8Array(mask.length);
    for (let i = 0; i < mask.length; i++) {
      kept[i] = labels[i] && sizes[labels[i]] >= SPECK_FRACTION * largest ? 1 : 0;
    }
    return kept;
  }

  function lanczos(x) {
    const sinc = (t) => (t === 0 ? 1 : Math.sin(t * Math.PI) / (t * Math.PI));
    return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
  }

  /** Pillow's precompute_coeffs: for each output pixel, its first input pixel and weights. */
  function resampleCoefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 3 * filterScale;
    const result = [];
    for (let xx = 0; xx < outSize; xx++) {
      const centre = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(centre - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(centre + support + 0.5)) - xmin;
      const weights = [];
      let total = 0;
      for (let x = 0; x < xmax; x++) {
        const w = lanczos((x + xmin - centre + 0.5) / filterScale);
        weights.push(w);
        total += w;
      }
      result.push({ start: xmin, weights: weights.map((w) => (total !== 0 ? w / total : w)) });
    }
    return result;
  }

  /** Pillow's Image.resize(size, LANCZOS) of a float32 ("F") image: rows first, then columns. */
  function resizeLanczos(image, width, height, outWidth, outHeight) {
    let current = image;
    let currentWidth = width;
    if (outWidth !== width) {
      const coefficients = resampleCoefficients(width, outWidth);
      const output = new Float32Array(outWidth * height);
      for (let y = 0; y < height; y++) {
        for (let xx = 0; xx < outWidth; xx++) {
          const { start, weights } = coefficients[xx];
          let sum = 0;
          for (let k = 0; k < weights.length; k++) sum += current[y * width + start + k] * weights[k];
          output[y * outWidth + xx] = sum;
        }
      }
      current = output;
      currentWidth = outWidth;
    }
    if (outHeight !== height) {
      const coefficients = resampleCoefficients(height, outHeight);
      const output = new Float32Array(currentWidth * outHeight);
      for (let yy = 0; yy < outHeight; yy++) {
        const { start, weights } = coefficients[yy];
        for (let x = 0; x < currentWidth; x++) {
          let sum = 0;
          for (let k = 0; k < weights.length; k++) {
            sum += current[(start + k) * currentWidth + x] * weights[k];
          }
          output[yy * currentWidth + x] = sum;
        }
      }
      current = output;
    }
    return current;
  }

  /** Python's round(): halves go to the even neighbour. */
  function roundHalfEven(x) {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /**
   * digits.handwriting.prepare_digit on gray pixels (0 black .. 1 white): the 28 x 28 input of
   * the model (Float32Array, row by row, 0 paper .. 1 ink), or null for a blank image.
   */
  function prepare(gray, width, height) {
    // ink: bright on dark, inverted when the border (the paper) is lighter than the ink
    const border = Math.max(1, Math.floor(Math.min(width, height) / 20));
    const borderValues = [];
    for (let y = 0; y < border; y++) {
      for (let x = 0; x < width; x++) borderValues.push(gray[y * width + x]);
    }
    for (let y = height - border; y < height; y++) {
      for (let x = 0; x < width; x++) borderValues.push(gray[y * width + x]);
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < border; x++) borderValues.push(gray[y * width + x]);
    }
    for (let y = 0; y < height; y++) {
      for (let x = width - border; x < width; x++) borderValues.push(gray[y * width + x]);
    }
    const background = median(borderValues);
    const smooth = gaussian(gray, width, height);
    let darkest = Infinity;
    let brightest = -Infinity;
    for (let i = 0; i < smooth.length; i++) {
      if (smooth[i] < darkest) darkest = smooth[i];
      if (smooth[i] > brightest) brightest = smooth[i];
    }
    if (Math.max(background - darkest, brightest - background) < MIN_CONTRAST) return null;
    const inkIsDark = background - darkest > brightest - background;
    const n = width * height;
    const ink = new Float32Array(n);
    for (let i = 0; i < n; i++) ink[i] = inkIsDark ? f32(1 - gray[i]) : gray[i];

    // cleaned: background (grey opening) subtracted, contrast stretched, noise and specks erased
    const window = Math.max(3, Math.floor(Math.min(width, height) / 3));
    const opened = greyOpening(ink, width, height, window);
    const flat = new Float32Array(n);
    for (let i = 0; i < n; i++) flat[i] = f32(ink[i] - opened[i]);
    const threshold = otsuThreshold(flat);
    const inkValues = flat.filter((v) => v > threshold);
    const inkLevel = f32(Math.max(median(inkValues), 1e-6));
    const stretched = new Float32Array(n);
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      stretched[i] = Math.min(1, Math.max(0, f32(flat[i] / inkLevel)));
      mask[i] = stretched[i] > INK_THRESHOLD ? 1 : 0;
    }
    const kept = withoutSpecks(mask, width, height);

    // cropped to the digit's bounding box
    let top = height;
    let bottom = -1;
    let left = width;
    let right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (kept[y * width + x] && stretched[y * width + x] !== 0) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    if (bottom < 0) return null;
    const cropWidth = right - left + 1;
    const cropHeight = bottom - top + 1;
    const cropped = new Float32Array(cropWidth * cropHeight);
    for (let y = 0; y < cropHeight; y++) {
      for (let x = 0; x < cropWidth; x++) {
        const i = (y + top) * width + x + left;
        cropped[y * cropWidth + x] = kept[i] ? stretched[i] : 0;
      }
    }

    // resized: the longer side 20 pixels, the brightest pixel 1
    const scale = BOX_SIZE / Math.max(cropWidth, cropHeight);
    const boxWidth = Math.max(1, roundHalfEven(cropWidth * scale));
    const boxHeight = Math.max(1, roundHalfEven(cropHeight * scale));
    const resized = resizeLanczos(cropped, cropWidth, cropHeight, boxWidth, boxHeight);
    let peak = 0;
    for (let i = 0; i < resized.length; i++) {
      resized[i] = Math.min(1, Math.max(0, resized[i]));
      peak = Math.max(peak, resized[i]);
    }
    for (let i = 0; i < resized.length; i++) resized[i] = f32(resized[i] / peak);

    // centred: the centre of mass on MNIST's, without cutting the digit
    let mass = 0;
    let rows = 0;
    let columns = 0;
    for (let y = 0; y < boxHeight; y++) {
      for (let x = 0; x < boxWidth; x++) {
        const v = resized[y * boxWidth + x];
        mass += v;
        rows += v * y;
        columns += v * x;
      }
    }
    const clip = (v, high) => Math.min(Math.max(v, 0), high);
    const offsetTop = clip(roundHalfEven(CENTRE - rows / mass), FRAME_SIZE - boxHeight);
    const offsetLeft = clip(roundHalfEven(CENTRE - columns / mass), FRAME_SIZE - boxWidth);
    const frame = new Float32Array(FRAME_SIZE * FRAME_SIZE);
    for (let y = 0; y < boxHeight; y++) {
      for (let x = 0; x < boxWidth; x++) {
        frame[(y + offsetTop) * FRAME_SIZE + x + offsetLeft] = resized[y * boxWidth + x];
      }
    }
    return frame;
  }

  // --- the model: weights from digits.drawing_pad, and its forward pass -----------------------

  function halfToFloat(h) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) return sign * fraction * 2 ** -24;
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }

  function decode(base64, dtype) {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const view = new DataView(bytes.buffer);
    const size = dtype === "float16" ? 2 : 4;
    const values = new Float32Array(bytes.length / size);
    for (let i = 0; i < values.length; i++) {
      values[i] =
        dtype === "float16" ? halfToFloat(view.getUint16(2 * i, true)) : view.getFloat32(4 * i, true);
    }
    return values;
  }

  const decoded = new Map();

  /** A registered model, its weights decoded once. */
  function model(name) {
    if (!decoded.has(name)) {
      const spec = (root.DRAW_DIGIT_MODELS || {})[name];
      if (!spec) throw new Error(`draw_digit.js: no model named ${name} was registered`);
      const layers = spec.layers.map((layer) =>
        layer.kernel
          ? { ...layer, kernel: decode(layer.kernel, spec.dtype), bias: decode(layer.bias, spec.dtype) }
          : layer,
      );
      decoded.set(name, { ...spec, layers });
    }
    return decoded.get(name);
  }

  function activate(values, activation) {
    if (activation === "relu") {
      for (let i = 0; i < values.length; i++) values[i] = Math.max(0, values[i]);
    } else if (activation === "softmax") {
      const top = Math.max(...values);
      let total = 0;
      for (let i = 0; i < values.length; i++) {
        values[i] = Math.exp(values[i] - top);
        total += values[i];
      }
      for (let i = 0; i < values.length; i++) values[i] /= total;
    }
    return values;
  }

  /**
   * The model's output for one 28 x 28 image (0..1): {probabilities, hidden}, where hidden holds
   * the activations of each hidden Dense layer (what chapter 3's diagram draws as circles).
   */
  function predict(net, pixels) {
    let x = Float64Array.from(pixels);
    let shape = [FRAME_SIZE, FRAME_SIZE, 1]; // height, width, channels (Keras' channels_last)
    const hidden = [];
    net.layers.forEach((layer, index) => {
      if (layer.type === "dense") {
        const [inputs, units] = layer.shape;
        const out = Float64Array.from(layer.bias);
        const kernel = layer.kernel;
        for (let i = 0; i < inputs; i++) {
          const xi = x[i];
          if (xi === 0) continue;
          const row = i * units;
          for (let j = 0; j < units; j++) out[j] += xi * kernel[row + j];
        }
        x = activate(out, layer.activation);
        shape = [units];
        if (index < net.layers.length - 1) hidden.push(Float32Array.from(x));
      } else if (layer.type === "conv2d") {
        const [kh, kw, channels, filters] = layer.shape;
        const [h, w] = shape;
        const oh = h - kh + 1;
        const ow = w - kw + 1;
        const out = new Float64Array(oh * ow * filters);
        const kernel = layer.kernel;
        for (let y = 0; y < oh; y++) {
          for (let xx = 0; xx < ow; xx++) {
            const o = (y * ow + xx) * filters;
            for (let f = 0; f < filters; f++) out[o + f] = layer.bias[f];
            for (let dy = 0; dy < kh; dy++) {
              for (let dx = 0; dx < kw; dx++) {
                const inBase = ((y + dy) * w + xx + dx) * channels;
                const kBase = (dy * kw + dx) * channels * filters;
                for (let c = 0; c < channels; c++) {
                  const v = x[inBase + c];
                  if (v === 0) continue;
                  const k = kBase + c * filters;
                  for (let f = 0; f < filters; f++) out[o + f] += v * kernel[k + f];
                }
              }
            }
          }
        }
        x = activate(out, layer.activation);
        shape = [oh, ow, filters];
      } else if (layer.type === "maxpool2d") {
        const [h, w, channels] = shape;
        const [ph, pw] = layer.pool;
        const oh = Math.floor(h / ph);
        const ow = Math.floor(w / pw);
        const out = new Float64Array(oh * ow * channels).fill(-Infinity);
        for (let y = 0; y < oh * ph; y++) {
          for (let xx = 0; xx < ow * pw; xx++) {
            const o = (Math.floor(y / ph) * ow + Math.floor(xx / pw)) * channels;
            const i = (y * w + xx) * channels;
            for (let c = 0; c < channels; c++) out[o + c] = Math.max(out[o + c], x[i + c]);
          }
        }
        x = out;
        shape = [oh, ow, channels];
      }
    });
    return { probabilities: Float32Array.from(x), hidden };
  }

  // --- the pad --------------------------------------------------------------------------------

  const PAD_SIZE = 280; // pixels of the drawing (its PNG), whatever size it is shown at
  const STROKE = 22; // MNIST's strokes are about 2 of its 28 pixels wide

  function element(tag, attributes, parent, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /** Build the pad inside `container`; its models are data-models="dense cnn" (registered). */
  function mount(container) {
    const names = (container.dataset.models || "dense").split(/\s+/).filter(Boolean);
    const state = {
      model: names[0],
      strokes: 0,
      drawing: false,
      last: null,
      pending: false,
      lastEnd: 0,
      lastDuration: 0,
    };
    container.classList.add("draw-digit");
    container.textContent = "";

    const left = element("div", { class: "draw-digit-column" }, container);
    const canvas = element("canvas", {
      width: PAD_SIZE,
      height: PAD_SIZE,
      "data-testid": "digit-canvas",
      "aria-label": "Draw one digit here",
      class: "draw-digit-canvas",
    }, left);
    const buttons = element("div", { class: "draw-digit-buttons" }, left);
    const clear = element("button", { type: "button", "data-testid": "clear" }, buttons, "Clear");
    const download = element(
      "button",
      { type: "button", "data-testid": "download" },
      buttons,
      "Download PNG",
    );
    let select = null;
    if (names.length > 1) {
      const label = element("label", { class: "draw-digit-model" }, buttons, "Model ");
      select = element("select", { "data-testid": "model" }, label);
      for (const name of names) {
        element("option", { value: name }, select, model(name).label || name);
      }
    }

    const middle = element("div", { class: "draw-digit-column" }, container);
    element("div", { class: "draw-digit-caption" }, middle, "What the model receives (28 x 28)");
    const input = element("canvas", {
      width: FRAME_SIZE,
      height: FRAME_SIZE,
      "data-testid": "model-input",
      class: "draw-digit-input",
    }, middle);
    element("div", { class: "draw-digit-caption" }, middle, "The model reads");
    const prediction = element("div", { "data-testid": "prediction", class: "draw-digit-answer" }, middle);

    const right = element("div", { class: "draw-digit-column" }, container);
    element("div", { class: "draw-digit-caption" }, right, "Probabilities");
    const bars = element("div", { "data-testid": "probabilities", class: "draw-digit-bars" }, right);
    const rows = [];
    for (let digit = 0; digit < 10; digit++) {
      const row = element("div", { class: "draw-digit-row", "data-digit": digit }, bars);
      element("span", { class: "draw-digit-label" }, row, `${digit}`);
      const track = element("span", { class: "draw-digit-track" }, row);
      const fill = element("span", { class: "draw-digit-fill" }, track);
      const value = element("span", { class: "draw-digit-value" }, row, "");
      rows.push({ fill, value });
    }

    const inside = element("div", { class: "draw-digit-network", "data-testid": "activations" }, container);
    const layerViews = [];

    const pen = canvas.getContext("2d", { willReadFrequently: true });
    const pixels = input.getContext("2d");

    function blank() {
      pen.fillStyle = "#ffffff";
      pen.fillRect(0, 0, PAD_SIZE, PAD_SIZE);
      state.strokes = 0;
    }

    function showActivations(hidden) {
      if (layerViews.length !== hidden.length) {
        inside.textContent = "";
        layerViews.length = 0;
        hidden.forEach((values, index) => {
          const view = element("div", { class: "draw-digit-layer" }, inside);
          element(
            "div",
            { class: "draw-digit-caption" },
            view,
            `Hidden Dense layer ${index + 1}: its ${values.length} activations`,
          );
          const columns = 16;
          const grid = element("canvas", {
            width: columns,
            height: Math.ceil(values.length / columns),
            class: "draw-digit-activations",
          }, view);
          layerViews.push(grid);
        });
      }
      hidden.forEach((values, index) => {
        const grid = layerViews[index];
        const context = grid.getContext("2d");
        const image = context.createImageData(grid.width, grid.height);
        const top = Math.max(1e-6, ...values);
        values.forEach((v, i) => {
          const level = Math.round(255 * (1 - v / top)); // dark: a strongly active unit
          image.data.set([level, level, level, 255], 4 * i);
        });
        context.putImageData(image, 0, 0);
      });
    }

    function show(result, prepared) {
      const image = pixels.createImageData(FRAME_SIZE, FRAME_SIZE);
      for (let i = 0; i < FRAME_SIZE * FRAME_SIZE; i++) {
        // As MNIST stores a digit and every figure of the site shows it: white ink on black.
        const level = prepared ? Math.round(255 * prepared[i]) : 0;
        image.data.set([level, level, level, 255], 4 * i);
      }
      pixels.putImageData(image, 0, 0);
      const probabilities = result ? Array.from(result.probabilities) : null;
      rows.forEach(({ fill, value }, digit) => {
        const p = probabilities ? probabilities[digit] : 0;
        fill.style.width = `${(100 * p).toFixed(1)}%`;
        value.textContent = probabilities ? `${(100 * p).toFixed(1)}%` : "";
      });
      bars.dataset.probabilities = probabilities ? JSON.stringify(probabilities) : "";
      if (probabilities) {
        const best = probabilities.indexOf(Math.max(...probabilities));
        prediction.textContent = `${best}`;
        rows.forEach(({ fill }, digit) => fill.classList.toggle("draw-digit-best", digit === best));
      } else {
        prediction.textContent = "";
      }
      showActivations(result ? result.hidden : []);
    }

    /** Read the drawing: prepare it, run the model, show it all; returns the milliseconds. */
    function update() {
      const start = performance.now();
      state.pending = false;
      let prepared = null;
      if (state.strokes > 0) {
        const data = pen.getImageData(0, 0, PAD_SIZE, PAD_SIZE).data;
        prepared = prepare(grayFromRGBA(data, PAD_SIZE, PAD_SIZE), PAD_SIZE, PAD_SIZE);
      }
      const result = prepared ? predict(model(state.model), prepared) : null;
      show(result, prepared);
      container.preparedInput = prepared;
      state.lastEnd = performance.now();
      state.lastDuration = state.lastEnd - start;
      return state.lastDuration;
    }

    // While a stroke goes on, read it again at most every other frame, and leave the page at
    // least twice the time a reading takes: the end of the stroke then seldom waits for one.
    function schedule() {
      if (state.pending) return;
      state.pending = true;
      const wait = Math.max(0, state.lastEnd + 2 * state.lastDuration - performance.now());
      setTimeout(() => requestAnimationFrame(() => state.pending && update()), wait);
    }

    function point(event) {
      const box = canvas.getBoundingClientRect();
      return [
        ((event.clientX - box.left) * PAD_SIZE) / box.width,
        ((event.clientY - box.top) * PAD_SIZE) / box.height,
      ];
    }

    function line(from, to) {
      pen.strokeStyle = "#000000";
      pen.lineWidth = STROKE;
      pen.lineCap = "round";
      pen.lineJoin = "round";
      pen.beginPath();
      pen.moveTo(from[0], from[1]);
      pen.lineTo(to[0], to[1]);
      pen.stroke();
    }

    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      state.drawing = true;
      state.strokes++;
      state.last = point(event);
      line(state.last, state.last); // a dot
      schedule();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!state.drawing) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const each of events.length ? events : [event]) {
        const next = point(each);
        line(state.last, next);
        state.last = next;
      }
      schedule();
    });
    const stop = (event) => {
      if (!state.drawing) return;
      state.drawing = false;
      const milliseconds = update();
      // from the end of the stroke (the event's time) to bars updated
      const latency = performance.now() - event.timeStamp;
      container.dataset.updateMs = milliseconds.toFixed(2);
      container.dataset.latencyMs = latency.toFixed(2);
    };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);

    clear.addEventListener("click", () => {
      blank();
      update();
    });
    download.addEventListener("click", () => {
      const link = element("a", { download: "my_digit.png", href: canvas.toDataURL("image/png") });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
    if (select) {
      select.addEventListener("change", () => {
        state.model = select.value;
        update();
      });
    }

    blank();
    update();
    container.drawDigit = { update, canvas, state };
    return container.drawDigit;
  }

  function mountAll() {
    document.querySelectorAll(".draw-digit-pad:not(.draw-digit)").forEach(mount);
  }

  root.DrawDigit = { prepare, grayFromRGBA, predict, model, mount, mountAll, halfToFloat };
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
    else mountAll();
  }
})(typeof window !== "undefined" ? window : globalThis);
