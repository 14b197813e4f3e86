# Recipe search for the Fashion-MNIST benchmark: a PyTorch mirror of our small BEiT classifier and fine-tune recipe.
import gzip, json, math, os, sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
D = os.path.dirname(os.path.abspath(__file__))
def idx(name, off):
    with gzip.open(os.path.join(D, name)) as f: return np.frombuffer(f.read(), np.uint8, offset=off)
def data(dev):
    xtr = torch.tensor(idx('train-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)).float().div(255).sub(.5).div(.5)
    ytr = torch.tensor(idx('train-labels-idx1-ubyte.gz', 8).astype(np.int64))
    xte = torch.tensor(idx('t10k-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)).float().div(255).sub(.5).div(.5)
    yte = torch.tensor(idx('t10k-labels-idx1-ubyte.gz', 8).astype(np.int64))
    return xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)

class Attn(nn.Module):
    def __init__(s, d, h, g):
        super().__init__(); s.h = h; s.qkv = nn.Linear(d, 3 * d, bias=False); s.qb = nn.Parameter(torch.zeros(d)); s.vb = nn.Parameter(torch.zeros(d)); s.proj = nn.Linear(d, d)
        n = (2 * g - 1) ** 2 + 3; s.table = nn.Parameter(torch.zeros(n, h))
        c = torch.stack(torch.meshgrid(torch.arange(g), torch.arange(g), indexing='ij')).flatten(1); r = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0)
        r[:, :, 0] += g - 1; r[:, :, 1] += g - 1; r[:, :, 0] *= 2 * g - 1
        ix = torch.zeros(g * g + 1, g * g + 1, dtype=torch.long); ix[1:, 1:] = r.sum(-1); ix[0, :] = n - 3; ix[:, 0] = n - 2; ix[0, 0] = n - 1
        s.register_buffer('ix', ix)
    def forward(s, x):
        B, N, C = x.shape
        qkv = F.linear(x, s.qkv.weight, torch.cat([s.qb, torch.zeros_like(s.vb), s.vb])).reshape(B, N, 3, s.h, C // s.h).permute(2, 0, 3, 1, 4)
        bias = s.table[s.ix.view(-1)].view(N, N, -1).permute(2, 0, 1).unsqueeze(0)
        return s.proj(F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias).transpose(1, 2).reshape(B, N, C))

class Block(nn.Module):
    def __init__(s, d, h, m, g, dp):
        super().__init__(); s.n1 = nn.LayerNorm(d, eps=1e-6); s.a = Attn(d, h, g); s.n2 = nn.LayerNorm(d, eps=1e-6); s.f1 = nn.Linear(d, m); s.f2 = nn.Linear(m, d); s.dp = dp
    def drop(s, x):
        if not s.training or s.dp == 0: return x
        keep = (torch.rand(x.shape[0], 1, 1, device=x.device) >= s.dp).float() / (1 - s.dp); return x * keep
    def forward(s, x):
        x = x + s.drop(s.a(s.n1(x))); return x + s.drop(s.f2(F.gelu(s.f1(s.n2(x)))))

class Beit(nn.Module):
    def __init__(s, p, d, L, h, m, dp):
        super().__init__(); g = 28 // p; s.pe = nn.Conv2d(1, d, p, p); s.cls = nn.Parameter(torch.zeros(1, 1, d))
        s.blocks = nn.ModuleList(Block(d, h, m, g, dp * i / max(L - 1, 1)) for i in range(L)); s.fn = nn.LayerNorm(d, eps=1e-6); s.head = nn.Linear(d, 10)
        for mod in s.modules():
            if isinstance(mod, nn.Linear): nn.init.trunc_normal_(mod.weight, std=.02); mod.bias is not None and nn.init.zeros_(mod.bias)
        nn.init.trunc_normal_(s.cls, std=.02)
    def forward(s, x):
        x = s.pe(x).flatten(2).transpose(1, 2); x = torch.cat([s.cls.expand(len(x), -1, -1), x], 1)
        for b in s.blocks: x = b(x)
        return s.head(s.fn(x[:, 1:].mean(1)))

def crop_flip(x, smin, flip=True):
    # Random resized crop (area in [smin, 1], aspect 3/4..4/3) and flip, as an affine resample on the GPU.
    B = len(x); area = torch.empty(B, device=x.device).uniform_(smin, 1); logr = torch.empty(B, device=x.device).uniform_(math.log(3 / 4), math.log(4 / 3))
    r = logr.exp(); w = (area * r).sqrt().clamp(max=1); h = (area / r).sqrt().clamp(max=1)
    cx = (torch.rand(B, device=x.device) * 2 - 1) * (1 - w); cy = (torch.rand(B, device=x.device) * 2 - 1) * (1 - h)
    sgn = torch.where(torch.rand(B, device=x.device) < .5, -1.0, 1.0) if flip else torch.ones(B, device=x.device)
    th = torch.zeros(B, 2, 3, device=x.device); th[:, 0, 0] = w * sgn; th[:, 0, 2] = cx; th[:, 1, 1] = h; th[:, 1, 2] = cy
    return F.grid_sample(x, F.affine_grid(th, x.shape, align_corners=False), mode='bilinear', padding_mode='border', align_corners=False)

def run(cfg):
    torch.manual_seed(cfg.get('seed', 7)); dev = 'cuda' if torch.cuda.is_available() else 'cpu'; xtr, ytr, xte, yte = data(dev); xtr, ytr = xtr[:cfg.get('n', 60000)], ytr[:cfg.get('n', 60000)]
    m = Beit(cfg['p'], cfg['d'], cfg['L'], cfg['h'], cfg['m'], cfg.get('dp', 0)).to(dev)
    decay = [p for n, p in m.named_parameters() if p.ndim > 1 and 'table' not in n and 'cls' not in n]; nod = [p for n, p in m.named_parameters() if not (p.ndim > 1 and 'table' not in n and 'cls' not in n)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': cfg.get('wd', .05)}, {'params': nod, 'weight_decay': 0}], lr=cfg['lr'], eps=1e-8)
    bs = cfg['bs']; E = cfg['E']; spe = len(xtr) // bs; total = E * spe; warm = int(cfg.get('warm', 1) * spe); t0 = time.time(); hist = []
    for e in range(E):
        m.train(); perm = torch.randperm(len(xtr), device=dev)
        for i in range(spe):
            it = e * spe + i; lr = cfg['lr'] * it / warm if it < warm else 1e-6 + (cfg['lr'] - 1e-6) * .5 * (1 + math.cos(math.pi * (it - warm) / (total - warm)))
            for gp in opt.param_groups: gp['lr'] = lr
            b = perm[i * bs:(i + 1) * bs]; x = xtr[b]
            if cfg.get('aug'): x = crop_flip(x, cfg['aug'], cfg.get('flip', True))
            loss = F.cross_entropy(m(x), ytr[b], label_smoothing=cfg.get('ls', .1)); opt.zero_grad(set_to_none=True); loss.backward()
            if cfg.get('clip'): nn.utils.clip_grad_norm_(m.parameters(), cfg['clip'])
            opt.step()
        m.eval()
        with torch.no_grad(): acc = sum((m(xte[j:j + 1000]).argmax(1) == yte[j:j + 1000]).sum().item() for j in range(0, 10000, 1000)) / 10000
        hist.append(acc); print(json.dumps(dict(tag=cfg.get('tag'), epoch=e + 1, acc=acc, sec=round(time.time() - t0))), file=sys.stderr, flush=True)
    n = sum(p.numel() for p in m.parameters()); tok = (28 // cfg['p']) ** 2 + 1
    gf = 2 * tok * sum(p.numel() for b in m.blocks for p in b.parameters() if p.ndim > 1) / 1e9
    return dict(cfg=cfg, acc=hist[-1], best=max(hist), hist=hist, params=n, fwd_gflop=gf, sec=time.time() - t0)

if __name__ == '__main__':
    cfg = json.loads(sys.argv[1]); r = run(cfg); print(json.dumps(r), flush=True)
