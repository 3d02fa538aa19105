"""Seeds the rig's AWS EMULATOR (moto, not AWS) and writes what it made as JSON.

moto on AWS_IAM_PORT enforces IAM after its first three calls: an IAM user with an
access key and an allow-all policy is made with them, then three EC2 instances with
that key. moto on AWS_R53_PORT runs without IAM (moto refuses the signature of a
Route53 read with a query string, boto3's as well as the console's): the hosted zone
switchboard.test with www, stale and app, CNAMEs (TTL 15) to primary-region, written with
UPSERT (moto refuses a CREATE identical to one in its journal while the record exists,
which a later restore to the same value would be).

Usage: aws_seed.py IAM_URL R53_URL > seed.json
"""
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
    json.dump(
        {
            "key_id": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "route53_zone": zone,
            "instances": [i["InstanceId"] for i in made],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
