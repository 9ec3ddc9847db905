/* Optional compiled inner loops for the Hextile, RRE/CoRRE, ZRLE/TRLE and Tight decoders,
 * and the 2x2 box filter of the renderer's mipmaps (box2x2, at the end).
 *
 * Each entry point parses bytes that Python hands it (any buffer) and writes RGBX words
 * straight into the framebuffer (a C-contiguous (h, w, 4) uint8 buffer). Every read is
 * checked against the data's length and every write against the rectangle, which is
 * itself checked against the framebuffer. Malformed data raises ValueError carrying the
 * same one-line reason the pure-Python decoders give; the caller turns it into a
 * ProtocolError. Stream decoders get "as much as is buffered": they parse whole tiles
 * only and return how many bytes they used and how many they need to go on.
 *
 * Wire formats: RFC 6143 section 7.7 and rfbproto ("Hextile", "RRE", "CoRRE", "TRLE",
 * "ZRLE"). A pixel format is passed as the tuple built by accel.py:
 * (bytes per pixel, compact pad, big endian, lut, red/green/blue shift, red/green/blue max).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vncwall.net.decoders._accel assumes a little-endian host (RGBX words)"
#endif

/* ---- pixel formats ------------------------------------------------------------------ */

typedef struct {
    int bpp;   /* wire bytes per pixel: 1, 2 or 4 */
    int cpp;   /* bytes per compact pixel (ZRLE CPIXEL) */
    int cpad;  /* -1: no compaction; 0: zero byte before the 3 bytes; 3: after them */
    int be;
    int native; /* 32 bpp little endian R, G, B at shifts 0, 8, 16, 8-bit channels */
    int rs, gs, bs;
    unsigned int rm, gm, bm;
    const uint32_t *lut; /* 8/16 bpp: pixel value -> RGBX word */
    Py_buffer lutbuf;
    int has_lut;
} Fmt;

static int fmt_parse(PyObject *spec, Fmt *f)
{
    PyObject *lut;
    memset(f, 0, sizeof *f);
    if (!PyTuple_Check(spec)) {
        PyErr_SetString(PyExc_TypeError, "pixel format spec must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(spec, "iiiOiiiIII", &f->bpp, &f->cpad, &f->be, &lut, &f->rs, &f->gs,
                          &f->bs, &f->rm, &f->gm, &f->bm))
        return -1;
    if (f->bpp != 1 && f->bpp != 2 && f->bpp != 4) {
        PyErr_SetString(PyExc_TypeError, "bytes per pixel must be 1, 2 or 4");
        return -1;
    }
    if (!(f->cpad == -1 || ((f->cpad == 0 || f->cpad == 3) && f->bpp == 4))) {
        PyErr_SetString(PyExc_TypeError, "bad compact pad");
        return -1;
    }
    if (f->rs < 0 || f->rs > 31 || f->gs < 0 || f->gs > 31 || f->bs < 0 || f->bs > 31) {
        PyErr_SetString(PyExc_TypeError, "bad shift");
        return -1;
    }
    f->cpp = f->cpad >= 0 ? 3 : f->bpp;
    if (f->bpp < 4) {
        Py_ssize_t entries = (Py_ssize_t)1 << (8 * f->bpp);
        if (PyObject_GetBuffer(lut, &f->lutbuf, PyBUF_SIMPLE) < 0)
            return -1;
        f->has_lut = 1;
        if (f->lutbuf.len < entries * 4 || ((uintptr_t)f->lutbuf.buf & 3)) {
            PyBuffer_Release(&f->lutbuf);
            f->has_lut = 0;
            PyErr_SetString(PyExc_TypeError, "lookup table too short or misaligned");
            return -1;
        }
        f->lut = (const uint32_t *)f->lutbuf.buf;
    } else if (f->rm == 0 || f->gm == 0 || f->bm == 0) {
        PyErr_SetString(PyExc_TypeError, "zero channel max");
        return -1;
    }
    f->native = f->bpp == 4 && !f->be && f->rs == 0 && f->gs == 8 && f->bs == 16 &&
                f->rm == 255 && f->gm == 255 && f->bm == 255;
    return 0;
}

static void fmt_release(Fmt *f)
{
    if (f->has_lut) {
        PyBuffer_Release(&f->lutbuf);
        f->has_lut = 0;
    }
}

static inline uint32_t scale(uint32_t c, uint32_t m)
{
    return m == 255 ? c : (uint32_t)(((uint64_t)c * 255 + m / 2) / m);
}

static inline uint32_t from_value32(const Fmt *f, uint32_t v)
{
    if (f->native)
        return v;
    return scale((v >> f->rs) & f->rm, f->rm) | scale((v >> f->gs) & f->gm, f->gm) << 8 |
           scale((v >> f->bs) & f->bm, f->bm) << 16;
}

static inline uint32_t read_pixel(const Fmt *f, const uint8_t *p)
{
    switch (f->bpp) {
    case 1:
        return f->lut[p[0]];
    case 2:
        return f->lut[f->be ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0]];
    default:
        return from_value32(f, f->be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                                           (uint32_t)p[2] << 8 | p[3]
                                     : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
                                           (uint32_t)p[1] << 8 | p[0]);
    }
}

static inline uint32_t read_cpixel(const Fmt *f, const uint8_t *p)
{
    uint8_t full[4];
    if (f->cpad < 0)
        return read_pixel(f, p);
    if (f->cpad == 3) {
        if (f->native)
            return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
        full[0] = p[0];
        full[1] = p[1];
        full[2] = p[2];
        full[3] = 0;
    } else {
        full[0] = 0;
        full[1] = p[0];
        full[2] = p[1];
        full[3] = p[2];
    }
    return read_pixel(f, full);
}

/* ---- the framebuffer and the rectangle in it ---------------------------------------- */

typedef struct {
    Py_buffer data; /* the wire bytes */
    Py_buffer fb;   /* the framebuffer */
    int have_data, have_fb;
    const uint8_t *d;
    Py_ssize_t len;
    uint32_t *rect; /* the rectangle's top-left pixel */
    Py_ssize_t stride; /* framebuffer width in pixels */
    Fmt fmt;
    int have_fmt;
} Job;

static void job_release(Job *j)
{
    if (j->have_data)
        PyBuffer_Release(&j->data);
    if (j->have_fb)
        PyBuffer_Release(&j->fb);
    if (j->have_fmt)
        fmt_release(&j->fmt);
    j->have_data = j->have_fb = j->have_fmt = 0;
}

static int job_open(Job *j, PyObject *data, PyObject *fb, int x, int y, int w, int h,
                    PyObject *spec)
{
    Py_ssize_t fbw, fbh;
    memset(j, 0, sizeof *j);
    if (PyObject_GetBuffer(data, &j->data, PyBUF_SIMPLE) < 0)
        return -1;
    j->have_data = 1;
    j->d = (const uint8_t *)j->data.buf;
    j->len = j->data.len;
    if (PyObject_GetBuffer(fb, &j->fb, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        goto fail;
    j->have_fb = 1;
    if (j->fb.ndim != 3 || j->fb.shape[2] != 4 || j->fb.itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "framebuffer must be a (h, w, 4) uint8 array");
        goto fail;
    }
    fbh = j->fb.shape[0];
    fbw = j->fb.shape[1];
    if (x < 0 || y < 0 || w < 0 || h < 0 || (Py_ssize_t)x + w > fbw ||
        (Py_ssize_t)y + h > fbh || j->fb.len != fbw * fbh * 4 || ((uintptr_t)j->fb.buf & 3)) {
        PyErr_SetString(PyExc_TypeError, "rectangle or framebuffer does not fit");
        goto fail;
    }
    if (fmt_parse(spec, &j->fmt) < 0)
        goto fail;
    j->have_fmt = 1;
    j->stride = fbw;
    j->rect = (uint32_t *)j->fb.buf + y * fbw + x;
    return 0;
fail:
    job_release(j);
    return -1;
}

/* A tile of raw pixels into the framebuffer: full-size pixels, or compact (CPIXEL) ones
   when `compact` (ZRLE/TRLE). The caller has checked that tw * th pixels are there. */
static void copy_tile(uint32_t *tile, Py_ssize_t stride, int tw, int th, const uint8_t *src,
                      const Fmt *f, int compact)
{
    const int size = compact ? f->cpp : f->bpp;
    for (int r = 0; r < th; r++) {
        uint32_t *row = tile + (Py_ssize_t)r * stride;
        for (int i = 0; i < tw; i++, src += size)
            row[i] = compact ? read_cpixel(f, src) : read_pixel(f, src);
    }
}

static void fill(uint32_t *dst, Py_ssize_t stride, int w, int h, uint32_t c)
{
    for (int r = 0; r < h; r++, dst += stride)
        for (int i = 0; i < w; i++)
            dst[i] = c;
}

/* Pixel k (row-major) of a tw-wide tile onward for `run` pixels, all colour c. */
static void fill_run(uint32_t *tile, Py_ssize_t stride, int tw, int k, int run, uint32_t c)
{
    int row = k / tw, col = k % tw;
    while (run > 0) {
        int n = tw - col < run ? tw - col : run;
        uint32_t *p = tile + (Py_ssize_t)row * stride + col;
        for (int i = 0; i < n; i++)
            p[i] = c;
        run -= n;
        row++;
        col = 0;
    }
}

/* ---- Hextile ------------------------------------------------------------------------ */

enum { HX_RAW = 1, HX_BG = 2, HX_FG = 4, HX_ANY = 8, HX_COLOURED = 16 };

PyDoc_STRVAR(hextile_doc,
"hextile(data, fb, x, y, w, h, index, bg, fg, flags, fmt)\n"
"-> (consumed, index, bg, fg, flags, need)\n\n"
"Decode whole 16x16 tiles of a Hextile rectangle from `data`, starting at tile `index`,\n"
"with background/foreground state (flags bit 0: bg set, bit 1: fg set). `need` is the\n"
"fewest bytes, from `consumed` on, that let it go on (0 when the rectangle is done).");

static PyObject *hextile(PyObject *self, PyObject *args)
{
    PyObject *data, *fb, *spec;
    int x, y, w, h, flags;
    Py_ssize_t index;
    unsigned int bg, fg;
    Job j;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiiiinIIiO", &data, &fb, &x, &y, &w, &h,
                          &index, &bg, &fg, &flags, &spec))
        return NULL;
    if (job_open(&j, data, fb, x, y, w, h, spec) < 0)
        return NULL;
    const uint8_t *d = j.d;
    const Py_ssize_t len = j.len, stride = j.stride;
    const int bpp = j.fmt.bpp;
    const Py_ssize_t cols = (w + 15) / 16, ntiles = cols * ((h + 15) / 16);
    Py_ssize_t pos = 0, need = 0;
    if (index < 0 || index > ntiles) {
        job_release(&j);
        PyErr_SetString(PyExc_TypeError, "tile index out of range");
        return NULL;
    }
    while (index < ntiles) {
        const int tx = (int)(index % cols) * 16, ty = (int)(index / cols) * 16;
        const int tw = w - tx < 16 ? w - tx : 16, th = h - ty < 16 ? h - ty : 16;
        /* Like the Python decoder, a tile is finished only once the next tile's
         * subencoding byte is there too, so both fail at the same byte. */
        const Py_ssize_t more = index + 1 < ntiles ? 1 : 0;
        const Py_ssize_t avail = len - pos;
        const uint8_t *p = d + pos;
        uint32_t *tile = j.rect + (Py_ssize_t)ty * stride + tx;
        if (avail < 1) {
            need = 1;
            break;
        }
        const int sub = p[0];
        if (sub & ~0x1F) {
            PyErr_Format(PyExc_ValueError, "hextile: invalid subencoding 0x%02x", sub);
            goto fail;
        }
        if (sub & HX_RAW) {
            const Py_ssize_t total = 1 + (Py_ssize_t)tw * th * bpp;
            if (avail < total + more) {
                need = total + more;
                break;
            }
            copy_tile(tile, stride, tw, th, p + 1, &j.fmt, 0);
            pos += total;
            index++;
            continue;
        }
        const int any = sub & HX_ANY, coloured = sub & HX_COLOURED;
        const Py_ssize_t head = 1 + ((sub & HX_BG) ? bpp : 0) + ((sub & HX_FG) ? bpp : 0) +
                                (any ? 1 : 0);
        if (avail < head + (any ? 0 : more)) {
            need = head + (any ? 0 : more);
            break;
        }
        uint32_t nbg = bg, nfg = fg;
        int nflags = flags;
        const uint8_t *q = p + 1;
        if (sub & HX_BG) {
            nbg = read_pixel(&j.fmt, q);
            q += bpp;
            nflags |= 1;
        }
        if (sub & HX_FG) {
            nfg = read_pixel(&j.fmt, q);
            q += bpp;
            nflags |= 2;
        }
        if (!(nflags & 1)) {
            PyErr_SetString(PyExc_ValueError, "hextile: tile without a background colour");
            goto fail;
        }
        const int count = any ? q[0] : 0;
        const Py_ssize_t size = 2 + (coloured ? bpp : 0);
        const Py_ssize_t total = head + count * size;
        if (count && avail < total + more) {
            need = total + more;
            break;
        }
        fill(tile, stride, tw, th, nbg);
        if (count) {
            if (!coloured && !(nflags & 2)) {
                PyErr_SetString(PyExc_ValueError,
                                "hextile: subrectangles without a foreground colour");
                goto fail;
            }
            const uint8_t *s = p + head;
            uint32_t c = nfg;
            for (int i = 0; i < count; i++, s += size) {
                if (coloured)
                    c = read_pixel(&j.fmt, s);
                const uint8_t xy = s[size - 2], wh = s[size - 1];
                const int sx = xy >> 4, sy = xy & 15, sw = (wh >> 4) + 1, sh = (wh & 15) + 1;
                if (sx + sw > tw || sy + sh > th) {
                    PyErr_Format(PyExc_ValueError,
                                 "hextile: subrectangle %dx%d+%d+%d outside the %dx%d tile", sw,
                                 sh, sx, sy, tw, th);
                    goto fail;
                }
                fill(tile + (Py_ssize_t)sy * stride + sx, stride, sw, sh, c);
            }
            if (coloured) { /* the last coloured subrectangle's colour becomes fg */
                nfg = c;
                nflags |= 2;
            }
        }
        bg = nbg;
        fg = nfg;
        flags = nflags;
        pos += total;
        index++;
    }
    job_release(&j);
    return Py_BuildValue("nnIIin", pos, index, bg, fg, flags, need);
fail:
    job_release(&j);
    return NULL;
}

/* ---- RRE / CoRRE -------------------------------------------------------------------- */

PyDoc_STRVAR(rre_doc,
"rre(data, fb, x, y, w, h, count, coord, fmt, name, background) -> None\n\n"
"Fill the rectangle with the wire pixel `background` (unless None), then paint `count`\n"
"RRE (coord 2) or CoRRE (coord 1) subrectangle records from `data` in order into it;\n"
"`name` prefixes the error message.");

static PyObject *rre(PyObject *self, PyObject *args)
{
    PyObject *data, *fb, *spec, *background;
    int x, y, w, h, coord;
    Py_ssize_t count;
    const char *name;
    Job j;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiiiiniOsO", &data, &fb, &x, &y, &w, &h, &count,
                          &coord, &spec, &name, &background))
        return NULL;
    if (coord != 1 && coord != 2) {
        PyErr_SetString(PyExc_TypeError, "coord must be 1 or 2");
        return NULL;
    }
    if (job_open(&j, data, fb, x, y, w, h, spec) < 0)
        return NULL;
    const Py_ssize_t rec = j.fmt.bpp + 4 * coord;
    if (count < 0 || count > j.len / rec) {
        job_release(&j);
        PyErr_SetString(PyExc_TypeError, "fewer bytes than subrectangle records");
        return NULL;
    }
    if (background != Py_None) {
        Py_buffer bb;
        if (PyObject_GetBuffer(background, &bb, PyBUF_SIMPLE) < 0) {
            job_release(&j);
            return NULL;
        }
        if (bb.len < j.fmt.bpp) {
            PyBuffer_Release(&bb);
            job_release(&j);
            PyErr_SetString(PyExc_TypeError, "background pixel too short");
            return NULL;
        }
        fill(j.rect, j.stride, w, h, read_pixel(&j.fmt, (const uint8_t *)bb.buf));
        PyBuffer_Release(&bb);
    }
    /* Subrectangles may each cover the whole rectangle, so a small hostile batch can mean
       a lot of filling: it runs without the GIL, so that the wall and the other sessions
       go on meanwhile (the buffers stay exported until job_release). */
    const uint8_t *s = j.d;
    Py_ssize_t bad = -1;
    int v[4] = {0, 0, 0, 0};
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++, s += rec) {
        const uint32_t c = read_pixel(&j.fmt, s);
        const uint8_t *g = s + j.fmt.bpp;
        for (int k = 0; k < 4; k++)
            v[k] = coord == 2 ? (g[2 * k] << 8 | g[2 * k + 1]) : g[k];
        if (v[0] + v[2] > w || v[1] + v[3] > h) {
            bad = i;
            break;
        }
        fill(j.rect + (Py_ssize_t)v[1] * j.stride + v[0], j.stride, v[2], v[3], c);
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "%s: subrectangle %dx%d+%d+%d outside the %dx%d rectangle",
                     name, v[2], v[3], v[0], v[1], w, h);
        job_release(&j);
        return NULL;
    }
    job_release(&j);
    Py_RETURN_NONE;
}

/* ---- ZRLE / TRLE tiles -------------------------------------------------------------- */

#define MAX_PALETTE 127

PyDoc_STRVAR(rle_tiles_doc,
"rle_tiles(data, fb, x, y, w, h, tile, index, memory, memory_size, fmt, name)\n"
"-> (consumed, index, memory_size, need, at, want)\n\n"
"Decode whole ZRLE/TRLE tiles (tile x tile) from `data`, starting at tile `index`.\n"
"`memory` is TRLE's previous palette (a writable buffer of 127 uint32 words, size\n"
"`memory_size`, 0 = none yet) or None for ZRLE. `need` is the fewest bytes, from\n"
"`consumed` on, that let it go on (0 when the rectangle is done); the read that ran\n"
"out starts at offset `at` and wants at least `want` bytes.");

static int overflow(const char *name, long run, long remaining)
{
    PyErr_Format(PyExc_ValueError, "%s: run of %ld pixels overflows the tile (%ld pixels left)",
                 name, run, remaining);
    return -1;
}

static int bad_index(const char *name, int index, int size)
{
    PyErr_Format(PyExc_ValueError, "%s: palette index %d out of range for a %d-colour palette",
                 name, index, size);
    return -1;
}

/* Runs starting at data[*q]: one plain-RLE (palette == NULL) or palette-RLE tile's
 * pixels. Returns 0 done, 1 data ran out (the unfinished read starts at *q and wants at
 * least *want bytes), -1 error. */
static int rle_runs(const Fmt *f, const uint8_t *d, Py_ssize_t len, Py_ssize_t *q,
                    uint32_t *tile, Py_ssize_t stride, int tw, int n,
                    const uint32_t *palette, int size, const char *name, Py_ssize_t *want)
{
    int k = 0;
    Py_ssize_t at = *q;
    while (k < n) {
        const long remaining = n - k;
        const Py_ssize_t start = at;
        uint32_t c;
        long run = 1;
        if (palette == NULL) {
            if (len - at < f->cpp + 1) {
                *q = start;
                *want = f->cpp + 1 + (remaining - 1) / 255;
                return 1;
            }
            c = read_cpixel(f, d + at);
            at += f->cpp;
        } else {
            if (at >= len) {
                *q = start;
                *want = remaining == 1 ? 1 : 2 + (remaining - 1) / 255;
                return 1;
            }
            const int b = d[at++];
            if (b < size) {
                tile[(Py_ssize_t)(k / tw) * stride + k % tw] = palette[b];
                k++;
                continue;
            }
            if ((b & 0x7F) >= size)
                return bad_index(name, b & 0x7F, size);
            c = palette[b & 0x7F];
        }
        for (;;) {
            if (at >= len) {
                *q = start;
                *want = palette == NULL ? f->cpp + 1 + (remaining - 1) / 255
                                        : (remaining == 1 ? 1 : 2 + (remaining - 1) / 255);
                return 1;
            }
            const int b = d[at++];
            run += b;
            if (run > remaining)
                return overflow(name, run, remaining);
            if (b != 255)
                break;
        }
        fill_run(tile, stride, tw, k, (int)run, c);
        k += (int)run;
    }
    *q = at;
    return 0;
}

static PyObject *rle_tiles(PyObject *self, PyObject *args)
{
    PyObject *data, *fb, *spec, *memory;
    int x, y, w, h, tsize, msize;
    Py_ssize_t index;
    const char *name;
    Py_buffer mbuf;
    uint32_t *mem = NULL;
    Job j;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiiiiinOiOs", &data, &fb, &x, &y, &w, &h,
                          &tsize, &index, &memory, &msize, &spec, &name))
        return NULL;
    if (tsize < 1 || tsize > 64 || msize < 0 || msize > MAX_PALETTE) {
        PyErr_SetString(PyExc_TypeError, "bad tile size or palette memory size");
        return NULL;
    }
    if (memory != Py_None) {
        if (PyObject_GetBuffer(memory, &mbuf, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
            return NULL;
        if (mbuf.len < MAX_PALETTE * 4 || ((uintptr_t)mbuf.buf & 3)) {
            PyBuffer_Release(&mbuf);
            PyErr_SetString(PyExc_TypeError, "palette memory too small or misaligned");
            return NULL;
        }
        mem = (uint32_t *)mbuf.buf;
    }
    if (job_open(&j, data, fb, x, y, w, h, spec) < 0) {
        if (mem)
            PyBuffer_Release(&mbuf);
        return NULL;
    }
    const uint8_t *d = j.d;
    const Py_ssize_t len = j.len, stride = j.stride;
    const int cpp = j.fmt.cpp;
    const Py_ssize_t cols = (w + tsize - 1) / tsize, ntiles = cols * ((h + tsize - 1) / tsize);
    Py_ssize_t pos = 0, at = 0, want = 0; /* an unfinished read: where it starts, its size */
    uint32_t palette[MAX_PALETTE];
    if (index < 0 || index > ntiles) {
        PyErr_SetString(PyExc_TypeError, "tile index out of range");
        goto fail;
    }
    while (index < ntiles) {
        const int tx = (int)(index % cols) * tsize, ty = (int)(index / cols) * tsize;
        const int tw = w - tx < tsize ? w - tx : tsize, th = h - ty < tsize ? h - ty : tsize;
        const int n = tw * th;
        const Py_ssize_t avail = len - pos;
        const uint8_t *p = d + pos;
        uint32_t *tile = j.rect + (Py_ssize_t)ty * stride + tx;
        Py_ssize_t q;
        if (avail < 1) {
            at = pos;
            want = 1;
            break;
        }
        const int sub = p[0];
        if (sub == 0) {
            const Py_ssize_t total = 1 + (Py_ssize_t)n * cpp;
            if (avail < total) {
                at = pos + 1;
                want = total - 1;
                break;
            }
            copy_tile(tile, stride, tw, th, p + 1, &j.fmt, 1);
            pos += total;
            index++;
            continue;
        }
        if (sub == 1) {
            if (avail < 1 + cpp) {
                at = pos + 1;
                want = cpp;
                break;
            }
            fill(tile, stride, tw, th, read_cpixel(&j.fmt, p + 1));
            pos += 1 + cpp;
            index++;
            continue;
        }
        if (sub == 128) {
            q = pos + 1;
            int r = rle_runs(&j.fmt, d, len, &q, tile, stride, tw, n, NULL, 0, name, &want);
            if (r < 0)
                goto fail;
            if (r > 0) {
                at = q;
                break;
            }
            pos = q;
            index++;
            continue;
        }
        const uint32_t *pal;
        int size;
        q = pos + 1;
        if ((2 <= sub && sub <= 16) || sub >= 130) {
            size = sub <= 16 ? sub : sub - 128;
            if (avail < 1 + (Py_ssize_t)size * cpp) {
                at = pos + 1;
                want = (Py_ssize_t)size * cpp;
                break;
            }
            for (int i = 0; i < size; i++, q += cpp)
                palette[i] = read_cpixel(&j.fmt, d + q);
            if (mem) {
                for (int i = 0; i < size; i++)
                    mem[i] = palette[i];
                msize = size;
            }
            pal = palette;
        } else if ((sub == 127 || sub == 129) && mem) {
            if (msize == 0) {
                PyErr_Format(PyExc_ValueError,
                             "%s: subencoding %d reuses a palette before any was sent", name, sub);
                goto fail;
            }
            size = msize;
            for (int i = 0; i < size; i++)
                palette[i] = mem[i];
            pal = palette;
        } else {
            PyErr_Format(PyExc_ValueError, "%s: invalid tile subencoding %d", name, sub);
            goto fail;
        }
        if (sub <= 127) {
            if (size > 16) {
                PyErr_Format(PyExc_ValueError,
                             "%s: subencoding %d packs indices into a %d-colour palette", name,
                             sub, size);
                goto fail;
            }
            const int bits = size <= 2 ? 1 : size <= 4 ? 2 : 4;
            const Py_ssize_t row_bytes = ((Py_ssize_t)tw * bits + 7) / 8;
            const Py_ssize_t total = q - pos + th * row_bytes;
            if (avail < total) {
                at = q;
                want = th * row_bytes;
                break;
            }
            const int mask = (1 << bits) - 1;
            if (size != 1 << bits) {
                int top = 0;
                for (int r = 0; r < th; r++) {
                    const uint8_t *s = d + q + r * row_bytes;
                    for (int i = 0; i < tw; i++) {
                        const int bit = i * bits;
                        const int v = (s[bit >> 3] >> (8 - bits - (bit & 7))) & mask;
                        if (v > top)
                            top = v;
                    }
                }
                if (top >= size) {
                    bad_index(name, top, size);
                    goto fail;
                }
            }
            for (int r = 0; r < th; r++) {
                const uint8_t *s = d + q + r * row_bytes;
                uint32_t *row = tile + (Py_ssize_t)r * stride;
                for (int i = 0; i < tw; i++) {
                    const int bit = i * bits;
                    row[i] = pal[(s[bit >> 3] >> (8 - bits - (bit & 7))) & mask];
                }
            }
            pos += total;
            index++;
            continue;
        }
        int r = rle_runs(&j.fmt, d, len, &q, tile, stride, tw, n, pal, size, name, &want);
        if (r < 0)
            goto fail;
        if (r > 0) {
            at = q;
            break;
        }
        pos = q;
        index++;
    }
    job_release(&j);
    if (mem)
        PyBuffer_Release(&mbuf);
    /* The fewest bytes, from the unfinished tile's start, that let it go on; more than
     * are there (a run of 255s may already reach past `at + want`). */
    Py_ssize_t need = 0;
    if (index < ntiles) {
        need = at - pos + want;
        if (need <= len - pos)
            need = len - pos + 1;
    }
    return Py_BuildValue("nninnn", pos, index, msize, need, at, want);
fail:
    job_release(&j);
    if (mem)
        PyBuffer_Release(&mbuf);
    return NULL;
}

/* ---- Tight: palette and RGB pixel data ----------------------------------------------- */

/* The rectangle of a (h, w, 4) uint8 framebuffer, checked; 0 on success. */
static int open_rect(Py_buffer *fbb, PyObject *fb, int x, int y, int w, int h, uint32_t **rect,
                     Py_ssize_t *stride)
{
    if (PyObject_GetBuffer(fb, fbb, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (fbb->ndim != 3 || fbb->shape[2] != 4 || fbb->itemsize != 1 || x < 0 || y < 0 ||
        w < 0 || h < 0 || (Py_ssize_t)x + w > fbb->shape[1] ||
        (Py_ssize_t)y + h > fbb->shape[0] || ((uintptr_t)fbb->buf & 3)) {
        PyBuffer_Release(fbb);
        PyErr_SetString(PyExc_TypeError, "rectangle or framebuffer does not fit");
        return -1;
    }
    *stride = fbb->shape[1];
    *rect = (uint32_t *)fbb->buf + y * *stride + x;
    return 0;
}

PyDoc_STRVAR(tight_palette_doc,
"tight_palette(data, fb, x, y, w, h, palette, count, rgb) -> None\n\n"
"Paint Tight palette-filter data: with 2 colours one bit per pixel (rows padded to a\n"
"byte, most significant bit first), else one index byte per pixel. `palette` holds\n"
"`count` RGBX words, or with `rgb` set `count` 3-byte R, G, B TPIXELs.");

static PyObject *tight_palette(PyObject *self, PyObject *args)
{
    PyObject *data, *fb, *palette;
    int x, y, w, h, count, rgb;
    Py_buffer db, fbb, pb;
    uint32_t *rect;
    Py_ssize_t stride;
    uint32_t words[256];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiiiiOip", &data, &fb, &x, &y, &w, &h, &palette, &count,
                          &rgb))
        return NULL;
    if (count < 2 || count > 256) {
        PyErr_SetString(PyExc_TypeError, "palette count must be 2..256");
        return NULL;
    }
    if (PyObject_GetBuffer(palette, &pb, PyBUF_SIMPLE) < 0)
        return NULL;
    if (pb.len < (Py_ssize_t)count * (rgb ? 3 : 4)) {
        PyBuffer_Release(&pb);
        PyErr_SetString(PyExc_TypeError, "palette too short");
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        const uint8_t *c = (const uint8_t *)pb.buf + i * (rgb ? 3 : 4);
        words[i] = rgb ? (uint32_t)c[2] << 16 | (uint32_t)c[1] << 8 | c[0]
                       : (uint32_t)c[3] << 24 | (uint32_t)c[2] << 16 | (uint32_t)c[1] << 8 | c[0];
    }
    if (PyObject_GetBuffer(data, &db, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&pb);
        return NULL;
    }
    if (open_rect(&fbb, fb, x, y, w, h, &rect, &stride) < 0) {
        PyBuffer_Release(&db);
        PyBuffer_Release(&pb);
        return NULL;
    }
    const uint32_t *pal = words;
    const uint8_t *d = (const uint8_t *)db.buf;
    const Py_ssize_t row_bytes = count == 2 ? ((Py_ssize_t)w + 7) / 8 : w;
    PyObject *result = NULL;
    if (db.len < row_bytes * h) {
        PyErr_SetString(PyExc_TypeError, "fewer bytes than pixels");
        goto done;
    }
    if (count == 2) {
        const uint32_t c0 = pal[0], c1 = pal[1];
        for (int r = 0; r < h; r++) {
            const uint8_t *s = d + r * row_bytes;
            uint32_t *row = rect + r * stride;
            int i = 0;
            for (; i + 8 <= w; i += 8) { /* a whole byte: 8 pixels */
                const unsigned b = s[i >> 3];
                for (int k = 0; k < 8; k++)
                    row[i + k] = (b >> (7 - k)) & 1 ? c1 : c0;
            }
            for (; i < w; i++)
                row[i] = (s[i >> 3] >> (7 - (i & 7))) & 1 ? c1 : c0;
        }
    } else {
        if (count < 256) {
            uint8_t top = 0;
            for (Py_ssize_t i = 0, n = (Py_ssize_t)w * h; i < n; i++)
                top = d[i] > top ? d[i] : top; /* branch-free: the compiler vectorises it */
            if (top >= count) {
                PyErr_Format(PyExc_ValueError, "tight: palette index %d with %d colours", top,
                             count);
                goto done;
            }
        }
        for (int r = 0; r < h; r++) {
            const uint8_t *s = d + (Py_ssize_t)r * w;
            uint32_t *row = rect + r * stride;
            for (int i = 0; i < w; i++)
                row[i] = pal[s[i]];
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&fbb);
    PyBuffer_Release(&db);
    PyBuffer_Release(&pb);
    return result;
}

PyDoc_STRVAR(tight_rgb_doc,
"tight_rgb(data, fb, x, y, w, h) -> None\n\n"
"Paint w*h 3-byte R, G, B pixels (Tight's TPIXEL for 24-bit colour), X = 0.");

static PyObject *tight_rgb(PyObject *self, PyObject *args)
{
    PyObject *data, *fb;
    int x, y, w, h;
    Py_buffer db, fbb;
    uint32_t *rect;
    Py_ssize_t stride;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiiii", &data, &fb, &x, &y, &w, &h))
        return NULL;
    if (PyObject_GetBuffer(data, &db, PyBUF_SIMPLE) < 0)
        return NULL;
    if (open_rect(&fbb, fb, x, y, w, h, &rect, &stride) < 0) {
        PyBuffer_Release(&db);
        return NULL;
    }
    if (db.len < (Py_ssize_t)w * h * 3) {
        PyBuffer_Release(&fbb);
        PyBuffer_Release(&db);
        PyErr_SetString(PyExc_TypeError, "fewer bytes than pixels");
        return NULL;
    }
    const uint8_t *s = (const uint8_t *)db.buf;
    for (int r = 0; r < h; r++) {
        uint32_t *row = rect + r * stride;
        for (int i = 0; i < w; i++, s += 3)
            row[i] = (uint32_t)s[2] << 16 | (uint32_t)s[1] << 8 | s[0];
    }
    PyBuffer_Release(&fbb);
    PyBuffer_Release(&db);
    Py_RETURN_NONE;
}

/* ---- mipmaps -------------------------------------------------------------------------- */

PyDoc_STRVAR(box2x2_doc,
"box2x2(src, dst, x, y, w, h) -> None\n\n"
"Set the w*h rectangle at x, y of mipmap level `dst` to the rounded means of the 2x2\n"
"blocks of level `src` under it; a side of `src` one pixel long is paired with itself.\n"
"Both are C-contiguous (h, w, 4) uint8 buffers. Runs without the GIL.");

/* The rounded per-channel mean of four RGBX words: two channels per 16-bit lane at a time
 * (a lane's sum is at most 4 * 255 + 2, so nothing carries into the next). */
static inline uint32_t box4(uint32_t p, uint32_t q, uint32_t r, uint32_t s)
{
    const uint32_t m = 0x00FF00FFu;
    uint32_t lo = (p & m) + (q & m) + (r & m) + (s & m) + 0x00020002u;
    uint32_t hi = ((p >> 8) & m) + ((q >> 8) & m) + ((r >> 8) & m) + ((s >> 8) & m) + 0x00020002u;
    return ((lo >> 2) & m) | (((hi >> 2) & m) << 8);
}

static PyObject *box2x2(PyObject *self, PyObject *args)
{
    PyObject *src, *dst;
    int x, y, w, h;
    Py_buffer sb, db;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOiiii", &src, &dst, &x, &y, &w, &h))
        return NULL;
    if (PyObject_GetBuffer(src, &sb, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (PyObject_GetBuffer(dst, &db, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&sb);
        return NULL;
    }
    Py_ssize_t sh = sb.ndim == 3 ? sb.shape[0] : 0, sw = sb.ndim == 3 ? sb.shape[1] : 0;
    Py_ssize_t dh = db.ndim == 3 ? db.shape[0] : 0, dw = db.ndim == 3 ? db.shape[1] : 0;
    int xstep = sw == 1 ? 0 : 1, ystep = sh == 1 ? 0 : 1;
    if (sb.ndim != 3 || db.ndim != 3 || sb.shape[2] != 4 || db.shape[2] != 4 ||
        sb.itemsize != 1 || db.itemsize != 1 || x < 0 || y < 0 || w < 0 || h < 0 ||
        (Py_ssize_t)x + w > dw || (Py_ssize_t)y + h > dh ||
        (xstep && 2 * ((Py_ssize_t)x + w) > sw) || (ystep && 2 * ((Py_ssize_t)y + h) > sh) ||
        ((uintptr_t)sb.buf & 3) || ((uintptr_t)db.buf & 3)) {
        PyBuffer_Release(&db);
        PyBuffer_Release(&sb);
        PyErr_SetString(PyExc_TypeError, "mipmap rectangle or levels do not fit");
        return NULL;
    }
    const uint32_t *s = (const uint32_t *)sb.buf;
    uint32_t *d = (uint32_t *)db.buf;
    Py_BEGIN_ALLOW_THREADS
    for (int r = 0; r < h; r++) {
        Py_ssize_t sy = ystep ? 2 * (Py_ssize_t)(y + r) : 0;
        const uint32_t *a = s + sy * sw, *b = a + ystep * sw;
        uint32_t *o = d + (Py_ssize_t)(y + r) * dw + x;
        for (int i = 0; i < w; i++) {
            Py_ssize_t c0 = xstep ? 2 * (Py_ssize_t)(x + i) : 0, c1 = c0 + xstep;
            o[i] = box4(a[c0], a[c1], b[c0], b[c1]);
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&db);
    PyBuffer_Release(&sb);
    Py_RETURN_NONE;
}

/* ---- module ------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"hextile", hextile, METH_VARARGS, hextile_doc},
    {"rre", rre, METH_VARARGS, rre_doc},
    {"rle_tiles", rle_tiles, METH_VARARGS, rle_tiles_doc},
    {"tight_palette", tight_palette, METH_VARARGS, tight_palette_doc},
    {"tight_rgb", tight_rgb, METH_VARARGS, tight_rgb_doc},
    {"box2x2", box2x2, METH_VARARGS, box2x2_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "vncwall.net.decoders._accel",
    "Compiled inner loops for the Hextile, RRE/CoRRE, ZRLE/TRLE and Tight decoders and mipmaps.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__accel(void)
{
    return PyModule_Create(&module);
}
