"""Seeds the rig's AWS EMULATOR (moto, not AWS) and writes what it made as JSON.

moto on AWS_IAM_PORT enforces IAM after its first three calls: an IAM user with an
access key and an allow-all policy is made with them, then three EC2 instances with
that key. moto on AWS_R53_PORT runs without IAM (moto refuses the signature of a
Route53 read with a query string, boto3's as well as the console's): the hosted zone
switchboard.test with www, stale and app, CNAMEs (TTL 15) to primary-region, written with
UPSERT (moto refuses a CREATE identical to one in its journal while the record exists,
which a later restore to the same value would be).

With RIG set (the rig's directory), it also writes what an engineer would have: RIG/aws/credentials
(profile "rig", 0600, as ~/.aws/credentials) and RIG/estate-region.toml, the
region-failover estate on the rig (etcd, Patroni, the public name on BIND9 and on
Route53, each Patroni member's machine an emulated EC2 instance, the runbook bound).

Usage: aws_seed.py IAM_URL R53_URL > seed.json
"""
import os
import json
import sys

import boto3


def main():
    iam_url, r53_url = sys.argv[1], sys.argv[2]
    kw = dict(region_name="eu-west-1", aws_access_key_id="seed", aws_secret_access_key="seed")
    iam = boto3.client("iam", endpoint_url=iam_url, **kw)
    iam.create_user(UserName="switchboard")
    key = iam.create_access_key(UserName="switchboard")["AccessKey"]
    iam.put_user_policy(
        UserName="switchboard",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    kw.update(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    ec2 = boto3.client("ec2", endpoint_url=iam_url, **kw)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    made = ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3)["Instances"]
    r53 = boto3.client("route53", endpoint_url=r53_url, **kw)
    zone = r53.create_hosted_zone(Name="switchboard.test.", CallerReference="rig")["HostedZone"]["Id"]
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": f"{name}.switchboard.test.",
                "Type": "CNAME",
                "TTL": 15,
                "ResourceRecords": [{"Value": "primary-region.switchboard.test"}],
            },
        }
        for name in ("www", "stale", "app")
    ]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    rig = os.environ.get("RIG")
    if rig:
        write_estate(rig, key, [i["InstanceId"] for i in made], iam_url, r53_url)
    json.dump(
        {
            "key_id": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "route53_zone": zone,
            "instances": [i["InstanceId"] for i in made],
        },
        sys.stdout,
    )


ESTATE = """# The rig's region-failover estate, written by tests/rig/aws_seed.py at rig start (the
# instance ids are moto's, an EMULATOR of AWS). Look at it with
#   AWS_SHARED_CREDENTIALS_FILE={rig}/aws/credentials \\
#   RIG_PG_DSN=postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres \\
#     switchboard --config {rig}/estate-region.toml

[[environment]]
name = "rig-region"

[[environment.source]]
kind = "etcd"
name = "control-plane"
endpoints = ["http://127.0.0.1:12379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"]

[[environment.source]]
kind = "patroni"
name = "orders-db"
endpoints = ["http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003"]
dsn_env = "RIG_PG_DSN"
dcs = "control-plane"

# On premises: BIND9, updates signed with a TSIG key.
[[environment.source]]
kind = "dns"
name = "public-dns"
zone = "switchboard.test"
servers = ["127.0.0.1:5301", "127.0.0.1:5302"]
tsig = {{ key_name = "switchboard-key", secret_file = "{rig}/bind9/tsig.secret" }}
[[environment.source.record]]
name = "www"
primary = "primary-region.switchboard.test"
standby = "standby-region.switchboard.test"
primary_service = "orders-db"

# In AWS: the same zone in Route53, found by its name.
[[environment.source]]
kind = "dns"
name = "route53"
zone = "switchboard.test"
route53 = {{ profile = "rig", endpoint = "{r53}" }}
[[environment.source.record]]
name = "app"
primary = "primary-region.switchboard.test"
standby = "standby-region.switchboard.test"
primary_service = "orders-db"
{fences}
[[environment.runbook]]
name = "region-failover"
vars = {{ dcs = "control-plane", old_primary = "node1", database = "orders-db", candidate = "node2", promote = "switchover", public_name = "public-dns/www", readiness = "http://127.0.0.1:8002/primary" }}
"""

FENCE = """
[[environment.fence]]
name = "node{n}-ec2"
node = "node{n}"
group = "orders-db"
ec2 = {{ instance_id = "{instance}", region = "eu-west-1", profile = "rig", endpoint = "{iam}", force = true }}
"""


def write_estate(rig, key, instances, iam_url, r53_url):
    """The credentials file and the region estate (see the module's docstring)."""
    os.makedirs(f"{rig}/aws", exist_ok=True)
    path = f"{rig}/aws/credentials"
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(
            f"[rig]\naws_access_key_id = {key['AccessKeyId']}\n"
            f"aws_secret_access_key = {key['SecretAccessKey']}\nregion = eu-west-1\n"
        )
    fences = "".join(FENCE.format(n=n, instance=i, iam=iam_url) for n, i in enumerate(instances, 1))
    with open(f"{rig}/estate-region.toml", "w") as f:
        f.write(ESTATE.format(rig=rig, r53=r53_url, fences=fences))


if __name__ == "__main__":
    main()
