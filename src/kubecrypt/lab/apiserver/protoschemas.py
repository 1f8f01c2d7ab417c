"""Field-number schemas of the protobuf request bodies the lab decodes for workloads: the pod
template (PodSpec, Container and what they hold), apps/v1 Deployment, batch/v1 Job and CronJob,
v1 Pod and Service, autoscaling/v1 Scale. Field numbers from k8s.io/api core/v1, apps/v1,
batch/v1 and autoscaling/v1 ``generated.proto``; which fields are pointers (written even when
zero, so kept) and which are plain Go values (zero means unset) from the ``types.go`` beside them.

A schema maps a field number to (JSON name, kind). Kinds: ``str``; ``strs`` (repeated string);
``int``/``bool`` (a pointer field: kept even when zero); ``int0``/``bool0`` (a plain field:
dropped when zero, as ``omitempty`` drops it in JSON); ``meta`` (ObjectMeta); ``map``
(map<string,string>); ``qty`` (resource.Quantity: field 1 is its string form); ``qtys``
(map<string,Quantity>); ``intstr`` (IntOrString); ``skip`` (read and dropped on purpose: the
status a create or update of the main resource ignores); ``("msg"|"msgs", schema)``."""

from __future__ import annotations

Kind = str | tuple[str, "Schema"]
Schema = dict[int, tuple[str, Kind]]

LOCAL_REF: Schema = {1: ("name", "str")}
SELECTOR_REQ: Schema = {1: ("key", "str"), 2: ("operator", "str"), 3: ("values", "strs")}
SELECTOR: Schema = {1: ("matchLabels", "map"), 2: ("matchExpressions", ("msgs", SELECTOR_REQ))}

# LocalObjectReference is embedded inline in Go (its name appears at the top of the JSON);
# in protobuf it is field 1, a message. "inline" merges its fields into the parent.
_KEY_SELECTOR: Schema = {1: ("", ("inline", LOCAL_REF)), 2: ("key", "str"),
                         3: ("optional", "bool")}
_ENV_SOURCE: Schema = {1: ("", ("inline", LOCAL_REF)), 2: ("optional", "bool")}
_ENV_VAR_SOURCE: Schema = {
    1: ("fieldRef", ("msg", {1: ("apiVersion", "str"), 2: ("fieldPath", "str")})),
    2: ("resourceFieldRef", ("msg", {1: ("containerName", "str"), 2: ("resource", "str"),
                                     3: ("divisor", "qty")})),
    3: ("configMapKeyRef", ("msg", _KEY_SELECTOR)),
    4: ("secretKeyRef", ("msg", _KEY_SELECTOR))}
_ENV: Schema = {1: ("name", "str"), 2: ("value", "str"), 3: ("valueFrom", ("msg", _ENV_VAR_SOURCE))}
_ENV_FROM: Schema = {1: ("prefix", "str"), 2: ("configMapRef", ("msg", _ENV_SOURCE)),
                     3: ("secretRef", ("msg", _ENV_SOURCE))}
_PORT: Schema = {1: ("name", "str"), 2: ("hostPort", "int0"), 3: ("containerPort", "int"),
                 4: ("protocol", "str"), 5: ("hostIP", "str")}
_RESOURCES: Schema = {1: ("limits", "qtys"), 2: ("requests", "qtys")}
_MOUNT: Schema = {1: ("name", "str"), 2: ("readOnly", "bool0"), 3: ("mountPath", "str"),
                  4: ("subPath", "str"), 5: ("mountPropagation", "str"),
                  6: ("subPathExpr", "str"), 7: ("recursiveReadOnly", "str")}
_HTTP_HEADER: Schema = {1: ("name", "str"), 2: ("value", "str")}
_PROBE: Schema = {
    1: ("", ("inline", {
        1: ("exec", ("msg", {1: ("command", "strs")})),
        2: ("httpGet", ("msg", {1: ("path", "str"), 2: ("port", "intstr"), 3: ("host", "str"),
                                4: ("scheme", "str"),
                                5: ("httpHeaders", ("msgs", _HTTP_HEADER))})),
        3: ("tcpSocket", ("msg", {1: ("port", "intstr"), 2: ("host", "str")})),
        4: ("grpc", ("msg", {1: ("port", "int"), 2: ("service", "str")}))})),
    2: ("initialDelaySeconds", "int0"), 3: ("timeoutSeconds", "int0"),
    4: ("periodSeconds", "int0"), 5: ("successThreshold", "int0"),
    6: ("failureThreshold", "int0"), 7: ("terminationGracePeriodSeconds", "int")}
_SECURITY_CONTEXT: Schema = {
    1: ("capabilities", ("msg", {1: ("add", "strs"), 2: ("drop", "strs")})),
    2: ("privileged", "bool"), 4: ("runAsUser", "int"), 5: ("runAsNonRoot", "bool"),
    6: ("readOnlyRootFilesystem", "bool"), 7: ("allowPrivilegeEscalation", "bool"),
    8: ("runAsGroup", "int")}
CONTAINER: Schema = {
    1: ("name", "str"), 2: ("image", "str"), 3: ("command", "strs"), 4: ("args", "strs"),
    5: ("workingDir", "str"), 6: ("ports", ("msgs", _PORT)), 7: ("env", ("msgs", _ENV)),
    8: ("resources", ("msg", _RESOURCES)), 9: ("volumeMounts", ("msgs", _MOUNT)),
    10: ("livenessProbe", ("msg", _PROBE)), 11: ("readinessProbe", ("msg", _PROBE)),
    13: ("terminationMessagePath", "str"), 14: ("imagePullPolicy", "str"),
    15: ("securityContext", ("msg", _SECURITY_CONTEXT)), 16: ("stdin", "bool0"),
    17: ("stdinOnce", "bool0"), 18: ("tty", "bool0"), 19: ("envFrom", ("msgs", _ENV_FROM)),
    20: ("terminationMessagePolicy", "str"), 22: ("startupProbe", ("msg", _PROBE)),
    24: ("restartPolicy", "str")}
_KEY_TO_PATH: Schema = {1: ("key", "str"), 2: ("path", "str"), 3: ("mode", "int")}
_VOLUME_SOURCE: Schema = {
    2: ("emptyDir", ("msg", {1: ("medium", "str"), 2: ("sizeLimit", "qty")})),
    6: ("secret", ("msg", {1: ("secretName", "str"), 2: ("items", ("msgs", _KEY_TO_PATH)),
                           3: ("defaultMode", "int"), 4: ("optional", "bool")})),
    10: ("persistentVolumeClaim", ("msg", {1: ("claimName", "str"), 2: ("readOnly", "bool0")})),
    19: ("configMap", ("msg", {1: ("", ("inline", LOCAL_REF)),
                               2: ("items", ("msgs", _KEY_TO_PATH)),
                               3: ("defaultMode", "int"), 4: ("optional", "bool")}))}
_TOLERATION: Schema = {1: ("key", "str"), 2: ("operator", "str"), 3: ("value", "str"),
                       4: ("effect", "str"), 5: ("tolerationSeconds", "int")}
POD_SPEC: Schema = {
    1: ("volumes", ("msgs", {1: ("name", "str"), 2: ("", ("inline", _VOLUME_SOURCE))})),
    2: ("containers", ("msgs", CONTAINER)), 3: ("restartPolicy", "str"),
    4: ("terminationGracePeriodSeconds", "int"), 5: ("activeDeadlineSeconds", "int"),
    6: ("dnsPolicy", "str"), 7: ("nodeSelector", "map"), 8: ("serviceAccountName", "str"),
    9: ("serviceAccount", "str"), 10: ("nodeName", "str"), 11: ("hostNetwork", "bool0"),
    12: ("hostPID", "bool0"), 13: ("hostIPC", "bool0"),
    14: ("securityContext", ("msg", {2: ("runAsUser", "int"), 3: ("runAsNonRoot", "bool"),
                                     4: ("supplementalGroups", "ints"), 5: ("fsGroup", "int"),
                                     6: ("runAsGroup", "int")})),
    15: ("imagePullSecrets", ("msgs", LOCAL_REF)), 16: ("hostname", "str"),
    17: ("subdomain", "str"), 19: ("schedulerName", "str"),
    20: ("initContainers", ("msgs", CONTAINER)), 21: ("automountServiceAccountToken", "bool"),
    22: ("tolerations", ("msgs", _TOLERATION)), 24: ("priorityClassName", "str"),
    25: ("priority", "int"), 27: ("shareProcessNamespace", "bool"),
    29: ("runtimeClassName", "str"), 30: ("enableServiceLinks", "bool"),
    31: ("preemptionPolicy", "str")}
POD_TEMPLATE: Schema = {1: ("metadata", "meta"), 2: ("spec", ("msg", POD_SPEC))}

_ROLLING_UPDATE: Schema = {1: ("maxUnavailable", "intstr"), 2: ("maxSurge", "intstr")}
DEPLOYMENT_SPEC: Schema = {
    1: ("replicas", "int"), 2: ("selector", ("msg", SELECTOR)),
    3: ("template", ("msg", POD_TEMPLATE)),
    4: ("strategy", ("msg", {1: ("type", "str"), 2: ("rollingUpdate", ("msg", _ROLLING_UPDATE))})),
    5: ("minReadySeconds", "int0"), 6: ("revisionHistoryLimit", "int"), 7: ("paused", "bool0"),
    9: ("progressDeadlineSeconds", "int")}
JOB_SPEC: Schema = {
    1: ("parallelism", "int"), 2: ("completions", "int"), 3: ("activeDeadlineSeconds", "int"),
    4: ("selector", ("msg", SELECTOR)), 5: ("manualSelector", "bool"),
    6: ("template", ("msg", POD_TEMPLATE)), 7: ("backoffLimit", "int"),
    8: ("ttlSecondsAfterFinished", "int"), 9: ("completionMode", "str"), 10: ("suspend", "bool"),
    12: ("backoffLimitPerIndex", "int"), 13: ("maxFailedIndexes", "int"),
    14: ("podReplacementPolicy", "str"), 15: ("managedBy", "str")}
CRONJOB_SPEC: Schema = {
    1: ("schedule", "str"), 2: ("startingDeadlineSeconds", "int"),
    3: ("concurrencyPolicy", "str"), 4: ("suspend", "bool"),
    5: ("jobTemplate", ("msg", {1: ("metadata", "meta"), 2: ("spec", ("msg", JOB_SPEC))})),
    6: ("successfulJobsHistoryLimit", "int"), 7: ("failedJobsHistoryLimit", "int"),
    8: ("timeZone", "str")}
_SERVICE_PORT: Schema = {1: ("name", "str"), 2: ("protocol", "str"), 3: ("port", "int"),
                         4: ("targetPort", "intstr"), 5: ("nodePort", "int0"),
                         6: ("appProtocol", "str")}
SERVICE_SPEC: Schema = {
    1: ("ports", ("msgs", _SERVICE_PORT)), 2: ("selector", "map"), 3: ("clusterIP", "str"),
    4: ("type", "str"), 5: ("externalIPs", "strs"), 7: ("sessionAffinity", "str"),
    8: ("loadBalancerIP", "str"), 9: ("loadBalancerSourceRanges", "strs"),
    10: ("externalName", "str"), 11: ("externalTrafficPolicy", "str"),
    12: ("healthCheckNodePort", "int0"), 13: ("publishNotReadyAddresses", "bool0"),
    17: ("ipFamilyPolicy", "str"), 18: ("clusterIPs", "strs"), 19: ("ipFamilies", "strs"),
    20: ("allocateLoadBalancerNodePorts", "bool"), 21: ("loadBalancerClass", "str"),
    22: ("internalTrafficPolicy", "str")}


def _object(spec: Schema) -> Schema:
    return {1: ("metadata", "meta"), 2: ("spec", ("msg", spec)), 3: ("status", "skip")}


WORKLOADS: dict[tuple[str, str], Schema] = {
    ("apps/v1", "Deployment"): _object(DEPLOYMENT_SPEC),
    ("batch/v1", "Job"): _object(JOB_SPEC),
    ("batch/v1", "CronJob"): _object(CRONJOB_SPEC),
    ("v1", "Pod"): _object(POD_SPEC),
    ("v1", "Service"): _object(SERVICE_SPEC),
    # ScaleSpec.replicas is a plain int32 (omitempty): 0 replicas is an empty spec.
    ("autoscaling/v1", "Scale"): {1: ("metadata", "meta"),
                                  2: ("spec", ("msg", {1: ("replicas", "int0")})),
                                  3: ("status", "skip")},
}
