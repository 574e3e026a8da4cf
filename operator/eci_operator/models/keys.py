"""Well-known names on the wire, one home each: API group, labels, taints, annotations, condition types.

A name that two modules spell is a name one of them will misspell after a change; every module that reads
or writes one of these imports it from here. Annotation *inputs* (``k8s.aliyun.com/eci-use-specs`` and the
rest) live with their parsers in ``domain.annotations``; the scripted-lifecycle inputs in
``domain.lifecycle``.
"""

from __future__ import annotations

from eci_operator.models._base import API_VERSION, GROUP, VERSION

__all__ = ["API_VERSION", "GROUP", "VERSION"]

# Labels
PROFILE_LABEL = f"{GROUP}/profile"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
HOSTNAME_LABEL = "kubernetes.io/hostname"
AUTO_IMAGE_CACHE_LABEL = f"{GROUP}/automatic-image-cache"  # "true" on the ImageCaches ECI created itself
AUTO_IMAGE_CACHE_FOR = f"{GROUP}/created-for"  # annotation: the pod (namespace/name) that needed it

# Taints of a virtual node
TAINT_KEY = "virtual-kubelet.io/provider"
TAINT_VALUE = "alibabacloud"
ZONE_DOWN_TAINT_KEY = f"{GROUP}/zone-unavailable"

# Node Leases
LEASE_NAMESPACE = "kube-node-lease"

# Annotations ECI writes back onto a pod once its instance exists (k8s.aliyun.com/<name>)
ECI_PREFIX = "k8s.aliyun.com/"
WRITE_BACK_NAMES = (
    "eci-instance-id",
    "eci-instance-spec",
    "eci-instance-cpu",
    "eci-instance-mem",
    "eci-instance-zone",
    "eci-vswitch",
    "eci-security-group",
    "eci-matched-image-cache",  # our pick for the name (Alibaba's pages do not show it): README "Our rules"
)
# Every write-back name ECI uses; eci-vswitch and eci-security-group are inputs too, so an edit of them
# looks like the write-back and is not reported as ignored (README, "Our rules").
WRITE_BACK = frozenset(ECI_PREFIX + k for k in (*WRITE_BACK_NAMES, "eci-request-id"))

# Our own annotation on a ContainerGroup: a digest of the pod's input annotations at creation
INPUT_HASH = f"{GROUP}/input-annotations"

# ECI's custom pod conditions
CONDITION_CREATED = "ContainerInstanceCreated"
CONDITION_SANDBOX = "SandboxReady"
# ECI's reasons (ContainerInstanceCreated reasons and the reclaimed spot pod's status), with their messages
# as ECI's custom-condition page writes them (%s: our detail)
NO_STOCK = "NoStock"
NO_STOCK_MESSAGE = "Create ECI failed because the specified instance is out of stock. %s"
STOCK_CLOSE = "StockClose"
STOCK_CLOSE_MESSAGE = "Create ECI failed because current zone closed or limited without living instance. %s"
SPOT_TO_BE_RELEASED = "SpotToBeReleased"
SPOT_TO_BE_RELEASED_MESSAGE = "Spot ECI will be released in %s minutes"
BID_FAILED = "BidFailed"

# Events are reported by ECI's component
EVENT_COMPONENT = "EciService"
