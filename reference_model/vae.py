"""A causal video VAE with Mochi's structure, built from estimators.specs.VideoVAESpec.

Shapes: pixels (B, 3, T, H, W) in [-1, 1] -> latents (B, C_lat, (T-1)/t + 1, H/s, W/s) -> pixels.
Time is padded at the front only (replicate), so frame k never sees frames after k and the first
frame is kept: T = 6k+1 frames give k+1 latent frames.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from estimators.specs.vaes import VAEStage, VideoVAESpec

FOURIER_START, FOURIER_STOP = 6, 8  # Mochi's Fourier features: frequencies 2^6, 2^7 per channel


def fourier_features(x: torch.Tensor, extra_channels: int) -> torch.Tensor:
    """Append sin/cos of the pixels at 2 frequencies: (B, 3, ...) -> (B, 3 + extra, ...)."""
    if extra_channels == 0:
        return x
    freqs = 2.0 ** torch.arange(FOURIER_START, FOURIER_STOP, dtype=x.dtype) * 2 * torch.pi
    h = (x.repeat_interleave(len(freqs), dim=1) * freqs.repeat(x.shape[1])[None, :, None, None, None])
    return torch.cat([x, torch.sin(h), torch.cos(h)], dim=1)[:, : x.shape[1] + extra_channels]


class CausalConv3d(nn.Module):
    """Conv3d with (k_t - 1) replicated frames in front and 'same' spatial padding for odd kernels."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int, int], stride: tuple[int, int, int] = (1, 1, 1)):
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv3d(c_in, c_out, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kt, kh, kw = self.kernel
        pad_h, pad_w = (kh - 1) // 2, (kw - 1) // 2
        x = F.pad(x, (pad_w, pad_w, pad_h, pad_h, kt - 1, 0), mode="replicate")
        return self.conv(x)


class ResBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(groups, channels), nn.GroupNorm(groups, channels)
        self.conv1 = CausalConv3d(channels, channels, (kernel,) * 3)
        self.conv2 = CausalConv3d(channels, channels, (kernel,) * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class TemporalAttention(nn.Module):
    """Causal self-attention over frames, one sequence per pixel: (B, C, T, H, W) -> same."""

    def __init__(self, channels: int, head_dim: int, groups: int):
        super().__init__()
        self.heads = max(channels // head_dim, 1)
        self.norm = nn.GroupNorm(groups, channels)
        self.q, self.k, self.v = (nn.Linear(channels, channels, bias=False) for _ in range(3))
        self.out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        seq = self.norm(x).permute(0, 3, 4, 2, 1).reshape(b * h * w, t, c)  # (B*H*W, T, C)
        q, k, v = (proj(seq).view(b * h * w, t, self.heads, c // self.heads).transpose(1, 2) for proj in (self.q, self.k, self.v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b * h * w, t, c)
        return x + self.out(attended).view(b, h, w, t, c).permute(0, 4, 3, 1, 2)


def stage_layers(spec: VideoVAESpec, stage: VAEStage) -> nn.Sequential:
    layers = []
    for _ in range(stage.num_blocks):
        layers.append(ResBlock(stage.channels, spec.conv_kernel, spec.norm_groups))
        if stage.attention:
            layers.append(TemporalAttention(stage.channels, spec.attention_head_dim, spec.norm_groups))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    def __init__(self, spec: VideoVAESpec):
        super().__init__()
        stages = spec.encoder_stages
        self.fourier = spec.fourier_features
        self.proj_in = nn.Linear(spec.image_channels + spec.fourier_features, stages[0].channels)
        self.entries = nn.ModuleList(
            CausalConv3d(stages[i - 1].channels, s.channels, (s.temporal_expansion, s.spatial_expansion, s.spatial_expansion),
                         stride=(s.temporal_expansion, s.spatial_expansion, s.spatial_expansion)) if i else nn.Identity()
            for i, s in enumerate(stages)
        )
        self.stages = nn.ModuleList(stage_layers(spec, s) for s in stages)
        self.norm_out = nn.GroupNorm(spec.norm_groups, stages[-1].channels)
        self.proj_out = nn.Linear(stages[-1].channels, 2 * spec.latent_channels, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, T, H, W) -> mean and log-variance, each (B, C_lat, T', H', W')."""
        x = self.proj_in(fourier_features(x, self.fourier).movedim(1, -1)).movedim(-1, 1)
        for entry, layers in zip(self.entries, self.stages):
            x = layers(entry(x))
        x = self.proj_out(F.silu(self.norm_out(x)).movedim(1, -1)).movedim(-1, 1)
        return x.chunk(2, dim=1)


class Decoder(nn.Module):
    def __init__(self, spec: VideoVAESpec):
        super().__init__()
        stages = spec.decoder_stages
        self.drop_causal = spec.decoder_drops_causal_frames
        self.conv_in = nn.Conv3d(spec.latent_channels, stages[0].channels, 1)
        self.stages = nn.ModuleList(stage_layers(spec, s) for s in stages)
        self.expansions = [(s.temporal_expansion, s.spatial_expansion) for s in stages[:-1]]
        self.exits = nn.ModuleList(
            nn.Linear(s.channels, stages[i + 1].channels * s.temporal_expansion * s.spatial_expansion**2) for i, s in enumerate(stages[:-1])
        )
        self.proj_out = nn.Linear(stages[-1].channels, spec.image_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(z)
        for i, layers in enumerate(self.stages):
            x = layers(x)
            if i < len(self.exits):
                x = self._depth_to_space_time(self.exits[i](x.movedim(1, -1)).movedim(-1, 1), *self.expansions[i])
        return self.proj_out(x.movedim(1, -1)).movedim(-1, 1)

    def _depth_to_space_time(self, x: torch.Tensor, te: int, se: int) -> torch.Tensor:
        """(B, C*te*se*se, T, H, W) -> (B, C, T*te, H*se, W*se), dropping te-1 leading frames (causal)."""
        b, c, t, h, w = x.shape
        c //= te * se * se
        x = x.view(b, c, te, se, se, t, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, c, t * te, h * se, w * se)
        return x[:, :, te - 1:] if self.drop_causal and te > 1 else x


class VideoVAE(nn.Module):
    """Encoder + decoder; latents are normalised per channel with statistics set after training."""

    def __init__(self, spec: VideoVAESpec):
        super().__init__()
        self.spec = spec
        self.encoder, self.decoder = Encoder(spec), Decoder(spec)
        self.register_buffer("latent_mean", torch.zeros(spec.latent_channels))
        self.register_buffer("latent_std", torch.ones(spec.latent_channels))

    def encode(self, pixels: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """Normalised latents of pixels in [-1, 1]."""
        mean, logvar = self.encoder(pixels)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return (z - self.latent_mean[:, None, None, None]) / self.latent_std[:, None, None, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        z = latents * self.latent_std[:, None, None, None] + self.latent_mean[:, None, None, None]
        return self.decoder(z)
