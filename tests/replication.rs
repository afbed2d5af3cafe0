//! Replicas in other Regions: creation, propagation of every kind of change, the guards on
//! replicas and primaries, removal and promotion, the `primary-region` filter, and faults.

mod common;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, ReplicaRegionType, StatusType, Tag};
use common::{TOKEN_A, TOKEN_B, TestServer, err_of};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
const REPLICA_TEXT: &str = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

fn region(r: &str) -> ReplicaRegionType {
    ReplicaRegionType::builder().region(r).build()
}

struct World {
    server: TestServer,
    east: Client,
    west: Client,
}

async fn world() -> World {
    let server = TestServer::start().await;
    let east = server.client_as(KEY, "us-east-1");
    let west = server.client_as(KEY, "eu-west-1");
    World { server, east, west }
}

/// `app/db` in us-east-1 with a replica in eu-west-1.
async fn replicated(w: &World) -> String {
    let out = w
        .east
        .create_secret()
        .name("app/db")
        .secret_string("s1")
        .add_replica_regions(region("eu-west-1"))
        .send()
        .await
        .unwrap();
    out.arn().unwrap().to_owned()
}

async fn value_in(client: &Client, id: &str) -> String {
    client.get_secret_value().secret_id(id).send().await.unwrap().secret_string().unwrap().to_owned()
}

#[tokio::test]
async fn create_with_a_replica_answers_in_progress_and_the_replica_is_in_sync_when_it_returns() {
    let w = world().await;
    let out = w
        .east
        .create_secret()
        .name("app/db")
        .secret_string("s1")
        .description("the db")
        .tags(Tag::builder().key("team").value("core").build())
        .add_replica_regions(region("eu-west-1"))
        .send()
        .await
        .unwrap();
    let arn = out.arn().unwrap();
    let status = out.replication_status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].region(), Some("eu-west-1"));
    assert_eq!(status[0].kms_key_id(), Some("alias/aws/secretsmanager"));
    assert_eq!(status[0].status(), Some(&StatusType::InProgress));
    assert_eq!(status[0].status_message(), None, "no message in the immediate answer");

    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.primary_region(), Some("us-east-1"));
    let status = primary.replication_status();
    assert_eq!(status[0].status(), Some(&StatusType::InSync));
    assert_eq!(status[0].status_message(), Some("Replication succeeded"));

    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(replica.arn().unwrap(), arn.replace(":us-east-1:", ":eu-west-1:"), "same ARN but the Region");
    assert_eq!(replica.primary_region(), Some("us-east-1"));
    assert!(replica.replication_status().is_empty(), "a replica lists no replicas");
    assert_eq!(replica.description(), Some("the db"));
    assert_eq!(replica.tags()[0].key(), Some("team"));
    assert_eq!(replica.version_ids_to_stages(), primary.version_ids_to_stages());
    assert_eq!(value_in(&w.west, "app/db").await, "s1");
    assert_eq!(value_in(&w.west, replica.arn().unwrap()).await, "s1", "by its own ARN");
}

#[tokio::test]
async fn every_change_on_the_primary_reaches_the_replica() {
    let w = world().await;
    replicated(&w).await;
    let put = w.east.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s2");
    let previous = w.west.get_secret_value().secret_id("app/db").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(previous.secret_string(), Some("s1"), "every version, with its labels");
    w.east.put_secret_value().secret_id("app/db").secret_string("s3").version_stages("CUSTOM").send().await.unwrap();
    let custom = w.west.get_secret_value().secret_id("app/db").version_stage("CUSTOM").send().await.unwrap();
    assert_eq!(custom.secret_string(), Some("s3"));
    w.east.update_secret().secret_id("app/db").description("changed").send().await.unwrap();
    w.east.update_secret().secret_id("app/db").secret_string("s4").send().await.unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s4");
    let current = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    let current_id = current
        .version_ids_to_stages()
        .unwrap()
        .iter()
        .find(|(_, s)| s.contains(&"AWSCURRENT".to_owned()))
        .map(|(id, _)| id.clone())
        .unwrap();
    w.east
        .update_secret_version_stage()
        .secret_id("app/db")
        .version_stage("AWSCURRENT")
        .move_to_version_id(put.version_id().unwrap())
        .remove_from_version_id(&current_id)
        .send()
        .await
        .unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s2", "a label move");
    w.east.tag_resource().secret_id("app/db").tags(Tag::builder().key("k").value("v").build()).send().await.unwrap();
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(replica.description(), Some("changed"));
    assert_eq!(replica.tags().len(), 1);
    w.east.untag_resource().secret_id("app/db").tag_keys("k").send().await.unwrap();
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert!(replica.tags().is_empty());
    let policy = POLICY;
    w.east.put_resource_policy().secret_id("app/db").resource_policy(policy).send().await.unwrap();
    let got = w.west.get_resource_policy().secret_id("app/db").send().await.unwrap();
    assert_eq!(got.resource_policy(), Some(policy));
    w.east.delete_resource_policy().secret_id("app/db").send().await.unwrap();
    let got = w.west.get_resource_policy().secret_id("app/db").send().await.unwrap();
    assert_eq!(got.resource_policy(), None);
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.version_ids_to_stages(), replica.version_ids_to_stages());
}

#[tokio::test]
async fn a_rotation_on_the_primary_reaches_the_replica() {
    let w = world().await;
    replicated(&w).await;
    let hook = r#"{"functionArn":"arn:aws:lambda:us-east-1:000000000000:function:rot","kind":"builtin"}"#;
    let registered = w.server.control("POST", "/_smemu/hooks", hook).await;
    assert!(registered.status < 300, "{:?}", String::from_utf8_lossy(&registered.body));
    w.east
        .rotate_secret()
        .secret_id("app/db")
        .rotation_lambda_arn("arn:aws:lambda:us-east-1:000000000000:function:rot")
        .send()
        .await
        .unwrap();
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.version_ids_to_stages().unwrap().len(), 2, "rotated: {primary:?}");
    assert_eq!(primary.version_ids_to_stages(), replica.version_ids_to_stages());
    assert_eq!(value_in(&w.west, "app/db").await, value_in(&w.east, "app/db").await);
    assert_ne!(value_in(&w.west, "app/db").await, "s1");
}

#[tokio::test]
async fn every_write_on_a_replica_is_refused_with_aws_text() {
    let w = world().await;
    replicated(&w).await;
    let refused = |e: (String, String)| {
        assert_eq!(e, ("InvalidParameterException".to_owned(), REPLICA_TEXT.to_owned()));
    };
    refused(err_of(w.west.put_secret_value().secret_id("app/db").secret_string("x").send().await.unwrap_err()));
    refused(err_of(w.west.update_secret().secret_id("app/db").description("x").send().await.unwrap_err()));
    refused(err_of(w.west.delete_secret().secret_id("app/db").send().await.unwrap_err()));
    refused(err_of(
        w.west.delete_secret().secret_id("app/db").force_delete_without_recovery(true).send().await.unwrap_err(),
    ));
    refused(err_of(w.west.restore_secret().secret_id("app/db").send().await.unwrap_err()));
    refused(err_of(
        w.west
            .tag_resource()
            .secret_id("app/db")
            .tags(Tag::builder().key("a").value("b").build())
            .send()
            .await
            .unwrap_err(),
    ));
    refused(err_of(w.west.untag_resource().secret_id("app/db").tag_keys("a").send().await.unwrap_err()));
    refused(err_of(w.west.put_resource_policy().secret_id("app/db").resource_policy(POLICY).send().await.unwrap_err()));
    refused(err_of(w.west.delete_resource_policy().secret_id("app/db").send().await.unwrap_err()));
    refused(err_of(
        w.west
            .update_secret_version_stage()
            .secret_id("app/db")
            .version_stage("X")
            .move_to_version_id(TOKEN_A)
            .send()
            .await
            .unwrap_err(),
    ));
    refused(err_of(w.west.rotate_secret().secret_id("app/db").rotate_immediately(true).send().await.unwrap_err()));
    refused(err_of(w.west.cancel_rotate_secret().secret_id("app/db").send().await.unwrap_err()));
    refused(err_of(
        w.west
            .replicate_secret_to_regions()
            .secret_id("app/db")
            .add_replica_regions(region("eu-west-2"))
            .send()
            .await
            .unwrap_err(),
    ));
    refused(err_of(
        w.west
            .remove_regions_from_replication()
            .secret_id("app/db")
            .remove_replica_regions("us-east-1")
            .send()
            .await
            .unwrap_err(),
    ));
    assert_eq!(value_in(&w.west, "app/db").await, "s1", "nothing changed");
}

#[tokio::test]
async fn a_primary_with_replicas_cannot_be_deleted_until_they_are_removed() {
    let w = world().await;
    let arn = replicated(&w).await;
    w.east
        .replicate_secret_to_regions()
        .secret_id("app/db")
        .add_replica_regions(region("ap-south-1"))
        .send()
        .await
        .unwrap();
    for force in [false, true] {
        let e = err_of(
            w.east.delete_secret().secret_id("app/db").force_delete_without_recovery(force).send().await.unwrap_err(),
        );
        assert_eq!(e.0, "InvalidParameterException");
        assert_eq!(
            e.1,
            format!("You can't delete secret {arn} that still has replica regions [eu-west-1, ap-south-1].")
        );
    }
    let out = w
        .east
        .remove_regions_from_replication()
        .secret_id("app/db")
        .remove_replica_regions("eu-west-1")
        .send()
        .await
        .unwrap();
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.replication_status().len(), 1);
    let (code, _) = err_of(w.west.describe_secret().secret_id("app/db").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException", "deleted at once, no recovery window");
    // Naming a Region that is not replicated is harmless.
    let raw = w
        .server
        .call(
            "RemoveRegionsFromReplication",
            r#"{"SecretId":"app/db","RemoveReplicaRegions":["ap-south-1","eu-north-1"]}"#,
        )
        .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.json()["ReplicationStatus"], serde_json::json!([]), "the empty list is present");
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.primary_region(), None);
    w.east.delete_secret().secret_id("app/db").send().await.unwrap();
}

#[tokio::test]
async fn stop_replication_promotes_the_replica_to_a_standalone_secret() {
    let w = world().await;
    let arn = replicated(&w).await;
    let e = err_of(w.east.stop_replication_to_replica().secret_id("app/db").send().await.unwrap_err());
    assert_eq!(e.0, "InvalidRequestException", "the primary is no replica");
    let out = w.west.stop_replication_to_replica().secret_id("app/db").send().await.unwrap();
    let replica_arn = arn.replace(":us-east-1:", ":eu-west-1:");
    assert_eq!(out.arn(), Some(replica_arn.as_str()));
    w.west.put_secret_value().secret_id("app/db").secret_string("mine").send().await.unwrap();
    w.east.put_secret_value().secret_id("app/db").secret_string("theirs").send().await.unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "mine", "no longer a copy");
    let standalone = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(standalone.arn(), Some(replica_arn.as_str()));
    assert_eq!(standalone.primary_region(), None);
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    assert!(primary.replication_status().is_empty());
    w.east.delete_secret().secret_id("app/db").send().await.unwrap();
    w.west.delete_secret().secret_id("app/db").force_delete_without_recovery(true).send().await.unwrap();
}

#[tokio::test]
async fn the_replica_region_must_be_another_region() {
    let w = world().await;
    let e = err_of(
        w.east
            .create_secret()
            .name("s")
            .secret_string("v")
            .add_replica_regions(region("us-east-1"))
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e, ("InvalidParameterException".to_owned(), "Invalid replica region.".to_owned()));
    let (code, _) = err_of(w.east.describe_secret().secret_id("s").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException", "nothing was created");
    w.east.create_secret().name("s").secret_string("v").send().await.unwrap();
    let e = err_of(
        w.east
            .replicate_secret_to_regions()
            .secret_id("s")
            .add_replica_regions(region("us-east-1"))
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.1, "Invalid replica region.");
    let raw = w.server.call("ReplicateSecretToRegions", r#"{"SecretId":"s","AddReplicaRegions":[]}"#).await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.json()["__type"], "ValidationException");
    let raw = w.server.call("CreateSecret", r#"{"Name":"t","AddReplicaRegions":[]}"#).await;
    assert_eq!(raw.json()["__type"], "ValidationException");
}

#[tokio::test]
async fn a_name_taken_in_the_replica_region_fails_unless_overwritten() {
    let w = world().await;
    w.west.create_secret().name("app/db").secret_string("local").send().await.unwrap();
    replicated(&w).await;
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    let status = &primary.replication_status()[0];
    assert_eq!(status.status(), Some(&StatusType::Failed));
    assert_eq!(status.status_message(), Some("Secret with this name already exists in this region"));
    assert_eq!(value_in(&w.west, "app/db").await, "local", "left alone");
    w.west.put_secret_value().secret_id("app/db").secret_string("still mine").send().await.unwrap();
    w.east
        .replicate_secret_to_regions()
        .secret_id("app/db")
        .add_replica_regions(region("eu-west-1"))
        .force_overwrite_replica_secret(true)
        .send()
        .await
        .unwrap();
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.replication_status()[0].status(), Some(&StatusType::InSync));
    assert_eq!(value_in(&w.west, "app/db").await, "s1");
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(replica.arn(), primary.arn().map(|a| a.replace(":us-east-1:", ":eu-west-1:")).as_deref());
    let e = err_of(w.west.put_secret_value().secret_id("app/db").secret_string("x").send().await.unwrap_err());
    assert_eq!(e.1, REPLICA_TEXT);
}

#[tokio::test]
async fn a_replica_uses_its_own_region_key_and_an_unusable_key_fails_it() {
    let w = world().await;
    let kms_west = common::kms_client_for(&w.server.endpoint(), KEY, "eu-west-1");
    let key = kms_west.create_key().send().await.unwrap().key_metadata().unwrap().arn().unwrap().to_owned();
    w.east
        .create_secret()
        .name("app/db")
        .secret_string("s1")
        .add_replica_regions(ReplicaRegionType::builder().region("eu-west-1").kms_key_id(&key).build())
        .send()
        .await
        .unwrap();
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.replication_status()[0].kms_key_id(), Some(key.as_str()));
    assert_eq!(primary.replication_status()[0].status(), Some(&StatusType::InSync));
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(replica.kms_key_id(), Some(key.as_str()));
    let versions = w.west.list_secret_version_ids().secret_id("app/db").send().await.unwrap();
    assert_eq!(versions.versions()[0].kms_key_ids(), std::slice::from_ref(&key));
    kms_west.disable_key().key_id(&key).send().await.unwrap();
    assert!(w.west.get_secret_value().secret_id("app/db").send().await.is_err(), "read under the replica's own key");
    assert_eq!(value_in(&w.east, "app/db").await, "s1", "the primary's key is another");
    w.east.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
    let primary = w.east.describe_secret().secret_id("app/db").send().await.unwrap();
    let status = &primary.replication_status()[0];
    assert_eq!(status.status(), Some(&StatusType::Failed));
    assert!(status.status_message().unwrap().contains("is disabled"), "{status:?}");
    kms_west.enable_key().key_id(&key).send().await.unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s1", "replicated versions stay");

    // A key that does not exist: CreateSecret succeeds, the replica fails.
    let missing = "arn:aws:kms:eu-west-2:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    w.east
        .create_secret()
        .name("other")
        .secret_string("v")
        .add_replica_regions(ReplicaRegionType::builder().region("eu-west-2").kms_key_id(missing).build())
        .send()
        .await
        .unwrap();
    let other = w.east.describe_secret().secret_id("other").send().await.unwrap();
    assert_eq!(other.replication_status()[0].status(), Some(&StatusType::Failed));
    let west2 = w.server.client_as(KEY, "eu-west-2");
    let (code, _) = err_of(west2.describe_secret().secret_id("other").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException", "no replica without a usable key");
}

#[tokio::test]
async fn list_secrets_shows_the_primary_region_and_filters_on_it() {
    let w = world().await;
    replicated(&w).await;
    w.east.create_secret().name("plain").secret_string("v").send().await.unwrap();
    w.west.create_secret().name("local").secret_string("v").send().await.unwrap();
    let names = |out: aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput| {
        out.secret_list()
            .iter()
            .map(|s| (s.name().unwrap().to_owned(), s.primary_region().map(str::to_owned)))
            .collect::<Vec<_>>()
    };
    let all = names(w.east.list_secrets().send().await.unwrap());
    assert!(all.contains(&("app/db".into(), Some("us-east-1".into()))));
    assert!(all.contains(&("plain".into(), None)), "PrimaryRegion only on replicated secrets");
    let filter = |v: &str| Filter::builder().key(FilterNameStringType::PrimaryRegion).values(v).build();
    assert_eq!(
        names(w.east.list_secrets().filters(filter("us-")).send().await.unwrap()),
        [("app/db".into(), Some("us-east-1".into()))]
    );
    assert_eq!(
        names(w.west.list_secrets().filters(filter("us-east-1")).send().await.unwrap()),
        [("app/db".into(), Some("us-east-1".into()))]
    );
    assert!(names(w.west.list_secrets().filters(filter("eu-")).send().await.unwrap()).is_empty());
    assert!(names(w.west.list_secrets().filters(filter("US")).send().await.unwrap()).is_empty(), "case-sensitive");
    let entry = w.west.list_secrets().send().await.unwrap();
    let replica = entry.secret_list().iter().find(|s| s.name() == Some("app/db")).unwrap();
    assert_eq!(replica.primary_region(), Some("us-east-1"));
}

#[tokio::test]
async fn a_new_key_for_an_existing_replica_reseals_it() {
    let w = world().await;
    replicated(&w).await;
    let kms_west = common::kms_client_for(&w.server.endpoint(), KEY, "eu-west-1");
    let key = kms_west.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    let out = w
        .east
        .replicate_secret_to_regions()
        .secret_id("app/db")
        .add_replica_regions(ReplicaRegionType::builder().region("eu-west-1").kms_key_id(&key).build())
        .send()
        .await
        .unwrap();
    assert_eq!(out.replication_status().len(), 1, "the same Region, once");
    let versions = w.west.list_secret_version_ids().secret_id("app/db").send().await.unwrap();
    assert_eq!(versions.versions()[0].kms_key_ids(), std::slice::from_ref(&key));
    assert_eq!(value_in(&w.west, "app/db").await, "s1");
}

async fn status_in(w: &World, name: &str) -> (StatusType, Option<String>) {
    let primary = w.east.describe_secret().secret_id(name).send().await.unwrap();
    let status = &primary.replication_status()[0];
    (status.status().unwrap().clone(), status.status_message().map(str::to_owned))
}

#[tokio::test]
async fn a_failing_region_reads_failed_and_catches_up_when_the_fault_is_cleared() {
    let w = world().await;
    replicated(&w).await;
    let r = w.server.control("POST", "/_smemu/faults", r#"{"region":"eu-west-1","fail":"Region unreachable"}"#).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["faults"][0]["region"], "eu-west-1");
    assert_eq!(status_in(&w, "app/db").await, (StatusType::Failed, Some("Region unreachable".into())), "at once");
    w.east.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
    assert_eq!(status_in(&w, "app/db").await.0, StatusType::Failed);
    assert_eq!(value_in(&w.west, "app/db").await, "s1", "the replica keeps what it had");
    let listed = w.server.control("GET", "/_smemu/faults", "").await.json();
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);
    let r = w.server.control("DELETE", "/_smemu/faults?region=eu-west-1", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["faults"], serde_json::json!([]));
    assert_eq!(status_in(&w, "app/db").await, (StatusType::InSync, Some("Replication succeeded".into())));
    assert_eq!(value_in(&w.west, "app/db").await, "s2");
    // New replicas into a failing Region fail from the start.
    w.server.control("POST", "/_smemu/faults", r#"{"region":"ap-south-1","fail":true}"#).await;
    w.east
        .create_secret()
        .name("new")
        .secret_string("v")
        .add_replica_regions(region("ap-south-1"))
        .send()
        .await
        .unwrap();
    let (status, message) = status_in(&w, "new").await;
    assert_eq!(status, StatusType::Failed);
    assert!(message.unwrap().contains("failed"));
    w.server.control("DELETE", "/_smemu/faults", "").await;
    assert_eq!(status_in(&w, "new").await.0, StatusType::InSync);
}

#[tokio::test]
async fn a_lagging_region_reads_in_progress_until_smemus_clock_passes_the_lag() {
    let w = world().await;
    replicated(&w).await;
    let r = w.server.control("POST", "/_smemu/faults", r#"{"region":"eu-west-1","lag":"10m"}"#).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["faults"][0]["lagMs"], 600_000);
    assert_eq!(status_in(&w, "app/db").await.0, StatusType::InSync, "a lag delays the next change only");
    w.east.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
    assert_eq!(status_in(&w, "app/db").await, (StatusType::InProgress, None));
    assert_eq!(value_in(&w.west, "app/db").await, "s1");
    let r = w.server.control("POST", "/_smemu/clock", r#"{"advance":"9m"}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(status_in(&w, "app/db").await.0, StatusType::InProgress);
    w.server.control("POST", "/_smemu/clock", r#"{"advance":"1m"}"#).await;
    assert_eq!(status_in(&w, "app/db").await.0, StatusType::InSync);
    assert_eq!(value_in(&w.west, "app/db").await, "s2");
    // Clearing the fault lets a lagging replica catch up at once.
    w.east.put_secret_value().secret_id("app/db").secret_string("s3").send().await.unwrap();
    assert_eq!(status_in(&w, "app/db").await.0, StatusType::InProgress);
    w.server.control("DELETE", "/_smemu/faults", "").await;
    assert_eq!(status_in(&w, "app/db").await.0, StatusType::InSync);
    assert_eq!(value_in(&w.west, "app/db").await, "s3");
}

#[tokio::test]
async fn fault_requests_are_checked() {
    let w = world().await;
    for body in [
        r#"{}"#,
        r#"{"region":"Nowhere"}"#,
        r#"{"region":"eu-west-1"}"#,
        r#"{"region":"eu-west-1","fail":true,"lag":"1m"}"#,
        r#"{"region":"eu-west-1","lag":"soon"}"#,
        r#"{"region":"eu-west-1","fail":7}"#,
        r#"{"region":"eu-west-1","fail":true,"extra":1}"#,
    ] {
        let r = w.server.control("POST", "/_smemu/faults", body).await;
        assert_eq!(r.status, 400, "{body}: {:?}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(w.server.control("GET", "/_smemu/faults", "").await.json()["faults"], serde_json::json!([]));
}

#[tokio::test]
async fn links_survive_a_restart_and_a_replica_left_behind_catches_up() {
    let dir = std::env::temp_dir().join(format!("smemu-replication-{}", uuid::Uuid::new_v4()));
    {
        let w = world().await;
        w.server.app.open_data_dir(&dir, false).unwrap();
        replicated(&w).await;
        // The replica stays behind while its primary moves on: what a kill between the
        // primary's record and the replica's leaves on disk.
        w.server.control("POST", "/_smemu/faults", r#"{"region":"eu-west-1","fail":true}"#).await;
        w.east.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
        w.east.update_secret().secret_id("app/db").description("after").send().await.unwrap();
        assert_eq!(value_in(&w.west, "app/db").await, "s1");
        w.server.stop().await;
    }
    let w = world().await;
    w.server.app.open_data_dir(&dir, false).unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s2", "copied again at start");
    let replica = w.west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(replica.description(), Some("after"));
    assert_eq!(replica.primary_region(), Some("us-east-1"));
    assert_eq!(status_in(&w, "app/db").await, (StatusType::InSync, Some("Replication succeeded".into())));
    let e = err_of(w.west.put_secret_value().secret_id("app/db").secret_string("x").send().await.unwrap_err());
    assert_eq!(e.1, REPLICA_TEXT, "still a replica after the restart");
    w.east.put_secret_value().secret_id("app/db").secret_string("s3").send().await.unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s3", "and still kept in step");
    w.server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn secret_in<'a>(state: &'a mut serde_json::Value, region: &str, name: &str) -> &'a mut serde_json::Value {
    let stores = state["stores"].as_array_mut().unwrap();
    let store = stores.iter_mut().find(|s| s["region"] == region).unwrap();
    store["secrets"].as_array_mut().unwrap().iter_mut().find(|s| s["name"] == name).unwrap()
}

#[tokio::test]
async fn an_export_carries_the_links_and_an_import_settles_what_a_crash_can_leave() {
    let w = world().await;
    replicated(&w).await;
    w.east
        .create_secret()
        .name("two")
        .secret_string("v")
        .add_replica_regions(region("eu-west-1"))
        .send()
        .await
        .unwrap();
    let state = w.server.control("GET", "/_smemu/state", "").await.json();
    assert_eq!(secret_in(&mut state.clone(), "eu-west-1", "app/db")["replica_of"], "us-east-1");
    w.server.control("POST", "/_smemu/reset", "").await;
    let r = w.server.control("POST", "/_smemu/state", &state.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(value_in(&w.west, "app/db").await, "s1");
    let e = err_of(w.west.put_secret_value().secret_id("app/db").secret_string("x").send().await.unwrap_err());
    assert_eq!(e.1, REPLICA_TEXT);
    w.east.put_secret_value().secret_id("app/db").secret_string("s2").send().await.unwrap();
    assert_eq!(value_in(&w.west, "app/db").await, "s2");

    // A primary that no longer lists its replica (removed before the replica was deleted), and a
    // replica promoted before its primary forgot it.
    let mut state = w.server.control("GET", "/_smemu/state", "").await.json();
    secret_in(&mut state, "us-east-1", "app/db").as_object_mut().unwrap().remove("replicas");
    secret_in(&mut state, "eu-west-1", "two").as_object_mut().unwrap().remove("replica_of");
    let r = w.server.control("POST", "/_smemu/state", &state.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let (code, _) = err_of(w.west.describe_secret().secret_id("app/db").send().await.unwrap_err());
    assert_eq!(code, "ResourceNotFoundException", "the orphan replica is gone");
    w.west.put_secret_value().secret_id("two").secret_string("standalone").send().await.unwrap();
    let two = w.east.describe_secret().secret_id("two").send().await.unwrap();
    assert!(two.replication_status().is_empty(), "the promoted replica's link is dropped");
}

#[tokio::test]
async fn a_seed_file_can_declare_replicas() {
    let w = world().await;
    let path = std::env::temp_dir().join(format!("smemu-replication-seed-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        "secrets:\n  - name: seeded\n    secretString: v1\n    replicaRegions: [eu-west-1, { region: ap-south-1 }]\n",
    )
    .unwrap();
    smemu::seed::load(&w.server.app, &path).unwrap();
    smemu::seed::load(&w.server.app, &path).unwrap();
    let primary = w.east.describe_secret().secret_id("seeded").send().await.unwrap();
    let regions: Vec<_> = primary.replication_status().iter().map(|s| s.region().unwrap().to_owned()).collect();
    assert_eq!(regions, ["eu-west-1", "ap-south-1"]);
    assert_eq!(value_in(&w.west, "seeded").await, "v1");
    std::fs::write(&path, "secrets:\n  - name: bad\n    secretString: v\n    replicaRegions: [us-east-1]\n").unwrap();
    let e = smemu::seed::load(&w.server.app, &path).unwrap_err().to_string();
    assert!(e.contains("replicaRegions") && e.contains("Invalid replica region."), "{e}");
    let _ = std::fs::remove_file(&path);
}

// --- cross-account replicas ------------------------------------------------------------------
// The SDK pinned here predates the 2026 model, so these requests are made as raw JSON.

const A: &str = "111111111111";
const B: &str = "222222222222";

/// A request signed (for open mode) with the access key `key`: a 12-digit key is that account.
async fn call_as(server: &TestServer, key: &str, op: &str, body: serde_json::Value) -> common::Raw {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"
    );
    let target = format!("secretsmanager.{op}");
    let headers =
        [("X-Amz-Target", target.as_str()), ("Content-Type", "application/x-amz-json-1.1"), ("Authorization", &auth)];
    server.raw("POST", &headers, body.to_string().as_bytes()).await
}

async fn ok_as(server: &TestServer, key: &str, op: &str, body: serde_json::Value) -> serde_json::Value {
    let r = call_as(server, key, op, body).await;
    assert_eq!(r.status, 200, "{op}: {}", r.json());
    r.json()
}

async fn error_as(server: &TestServer, key: &str, op: &str, body: serde_json::Value) -> (String, String) {
    let r = call_as(server, key, op, body).await;
    assert_eq!(r.status, 400, "{op}: {}", String::from_utf8_lossy(&r.body));
    let json = r.json();
    (json["__type"].as_str().unwrap_or_default().to_owned(), json["Message"].as_str().unwrap_or_default().to_owned())
}

struct Accounts {
    server: TestServer,
    primary: String,
    replica: String,
    key: String,
}

/// A's primary `app/db`, and B's replica `copy/db` of it on a key of B's, not yet associated.
async fn accounts(server: TestServer) -> Accounts {
    use serde_json::json;
    let primary = ok_as(
        &server,
        A,
        "CreateSecret",
        json!({"Name": "app/db", "SecretString": "s1", "ClientRequestToken": TOKEN_A}),
    )
    .await;
    let primary = primary["ARN"].as_str().unwrap().to_owned();
    let kms_b = common::kms_client_for(&server.endpoint(), B, "us-east-1");
    let key = kms_b.create_key().send().await.unwrap().key_metadata().unwrap().arn().unwrap().to_owned();
    let replica = ok_as(
        &server,
        B,
        "CreateSecret",
        json!({"Name": "copy/db", "CrossAccountPrimaryARN": primary, "KmsKeyId": key, "ClientRequestToken": TOKEN_A}),
    )
    .await;
    assert!(replica.get("VersionId").is_none(), "a cross-account replica starts without a value: {replica}");
    let replica = replica["ARN"].as_str().unwrap().to_owned();
    Accounts { server, primary, replica, key }
}

async fn value_as(server: &TestServer, key: &str, id: &str) -> String {
    let v = ok_as(server, key, "GetSecretValue", serde_json::json!({"SecretId": id})).await;
    v["SecretString"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_cross_account_replica_is_pending_until_associated_then_kept_in_step() {
    use serde_json::json;
    let w = accounts(TestServer::start().await).await;
    let s = &w.server;
    let pending = ok_as(s, B, "DescribeSecret", json!({"SecretId": "copy/db"})).await;
    assert_eq!(pending["CrossAccountPrimary"], json!({"PrimarySecretARN": w.primary, "ReplicationStatus": "Pending"}));
    assert_eq!(pending["KmsKeyId"], w.key.as_str());
    let policies = ok_as(s, B, "ListResourcePolicies", json!({"SecretId": "copy/db"})).await;
    assert_eq!(policies["ResourcePolicies"][0]["PolicyName"], "cross-account-replication");
    let policy =
        ok_as(s, B, "GetResourcePolicy", json!({"SecretId": "copy/db", "PolicyName": "cross-account-replication"}))
            .await;
    assert_eq!(policy["PolicyName"], "cross-account-replication");
    assert!(policy["ResourcePolicy"].as_str().unwrap().contains(&format!("arn:aws:iam::{A}:root")));
    let (code, _) = error_as(s, B, "GetSecretValue", json!({"SecretId": "copy/db"})).await;
    assert_eq!(code, "ResourceNotFoundException");

    let out =
        ok_as(s, A, "AssociateCrossAccountReplica", json!({"SecretId": "app/db", "CrossAccountReplicaARN": w.replica}))
            .await;
    assert_eq!(out, json!({"ARN": w.primary, "CrossAccountReplicaARN": w.replica, "ReplicationStatus": "InProgress"}));
    let primary = ok_as(s, A, "DescribeSecret", json!({"SecretId": "app/db"})).await;
    assert_eq!(
        primary["CrossAccountReplicas"],
        json!([{"ReplicaSecretARN": w.replica, "ReplicationStatus": "InSync", "StatusMessage": "Replication succeeded"}])
    );
    assert!(primary.get("CrossAccountPrimary").is_none());
    assert_eq!(value_as(s, B, "copy/db").await, "s1");
    let replica = ok_as(s, B, "DescribeSecret", json!({"SecretId": "copy/db"})).await;
    assert_eq!(replica["CrossAccountPrimary"]["ReplicationStatus"], "InSync");
    assert!(replica.get("CrossAccountReplicas").is_none());
    let listed = ok_as(s, B, "ListSecrets", json!({})).await;
    assert!(listed["SecretList"][0].get("CrossAccountPrimary").is_none(), "not in ListSecrets entries");

    ok_as(s, A, "PutSecretValue", json!({"SecretId": "app/db", "SecretString": "s2", "ClientRequestToken": TOKEN_B}))
        .await;
    assert_eq!(value_as(s, B, "copy/db").await, "s2", "changes reach the other account");
    let trail = s.control("GET", "/_smemu/audit?eventName=ReplicationSucceeded", "").await.json();
    let copies: Vec<_> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["recipientAccountId"].as_str(), e["additionalEventData"]["ReplicaSecretARN"].as_str()))
        .collect();
    assert_eq!(copies, [(Some(A), Some(w.replica.as_str())); 2], "the association's copy and the change's");
    let put = json!({"SecretId": "copy/db", "SecretString": "x", "ClientRequestToken": TOKEN_B});
    assert_eq!(error_as(s, B, "PutSecretValue", put.clone()).await.1, REPLICA_TEXT);
    let e = error_as(s, B, "DeleteSecret", json!({"SecretId": "copy/db"})).await;
    assert_eq!(e.1, REPLICA_TEXT, "a replica is deleted only once it is standalone");
    let e = error_as(s, A, "DeleteSecret", json!({"SecretId": "app/db"})).await;
    assert_eq!(e.0, "InvalidParameterException");
    assert!(e.1.contains(&w.replica), "{}", e.1);
    // Repeating the association repairs it and adds nothing.
    ok_as(s, A, "AssociateCrossAccountReplica", json!({"SecretId": "app/db", "CrossAccountReplicaARN": w.replica}))
        .await;
    let primary = ok_as(s, A, "DescribeSecret", json!({"SecretId": "app/db"})).await;
    assert_eq!(primary["CrossAccountReplicas"].as_array().unwrap().len(), 1);

    // The replica's owner stops: standalone, its system policy gone; the primary reads Detached.
    let out = ok_as(s, B, "StopReplicationToReplica", json!({"SecretId": "copy/db"})).await;
    assert_eq!(out, json!({"ARN": w.replica}));
    ok_as(s, B, "PutSecretValue", json!({"SecretId": "copy/db", "SecretString": "mine", "ClientRequestToken": "dddddddd-dddd-4ddd-8ddd-dddddddddddd"})).await;
    let policies = ok_as(s, B, "ListResourcePolicies", json!({"SecretId": "copy/db"})).await;
    assert_eq!(policies["ResourcePolicies"], json!([]));
    let primary = ok_as(s, A, "DescribeSecret", json!({"SecretId": "app/db"})).await;
    assert_eq!(primary["CrossAccountReplicas"][0]["ReplicationStatus"], "Detached");
    ok_as(
        s,
        A,
        "PutSecretValue",
        json!({"SecretId": "app/db", "SecretString": "s3", "ClientRequestToken": common::TOKEN_C}),
    )
    .await;
    assert_eq!(value_as(s, B, "copy/db").await, "mine");
    ok_as(s, A, "DeleteSecret", json!({"SecretId": "app/db"})).await;
}

#[tokio::test]
async fn disassociating_detaches_both_sides_and_keeps_the_replica() {
    use serde_json::json;
    let w = accounts(TestServer::start().await).await;
    let s = &w.server;
    let link = json!({"SecretId": "app/db", "CrossAccountReplicaARN": w.replica});
    ok_as(s, A, "AssociateCrossAccountReplica", link.clone()).await;
    let out = ok_as(s, A, "DisassociateCrossAccountReplica", link).await;
    assert_eq!(out, json!({"ARN": w.primary, "CrossAccountReplicaARN": w.replica}));
    let replica = ok_as(s, B, "DescribeSecret", json!({"SecretId": "copy/db"})).await;
    assert_eq!(replica["CrossAccountPrimary"]["ReplicationStatus"], "Detached");
    assert_eq!(value_as(s, B, "copy/db").await, "s1", "not deleted");
    ok_as(s, A, "PutSecretValue", json!({"SecretId": "app/db", "SecretString": "s2", "ClientRequestToken": TOKEN_B}))
        .await;
    assert_eq!(value_as(s, B, "copy/db").await, "s1", "no longer replicated");
    let e = error_as(s, B, "DeleteSecret", json!({"SecretId": "copy/db"})).await;
    assert_eq!(e.1, REPLICA_TEXT, "still needs StopReplicationToReplica");
    ok_as(s, B, "StopReplicationToReplica", json!({"SecretId": "copy/db"})).await;
    ok_as(s, B, "DeleteSecret", json!({"SecretId": "copy/db", "ForceDeleteWithoutRecovery": true})).await;
    ok_as(s, A, "DeleteSecret", json!({"SecretId": "app/db"})).await;
}

#[tokio::test]
async fn cross_account_requests_are_checked() {
    use serde_json::json;
    let w = accounts(TestServer::start().await).await;
    let s = &w.server;
    let create = |extra: serde_json::Value| {
        let mut body =
            json!({"Name": "x", "CrossAccountPrimaryARN": w.primary, "KmsKeyId": w.key, "ClientRequestToken": TOKEN_B});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let e = error_as(s, B, "CreateSecret", create(json!({"SecretString": "v"}))).await;
    assert_eq!(e.0, "InvalidParameterException");
    assert!(e.1.contains("SecretString"), "{}", e.1);
    let e = error_as(s, B, "CreateSecret", create(json!({"KmsKeyId": "alias/aws/secretsmanager"}))).await;
    assert!(e.1.contains("customer managed key"), "{}", e.1);
    let elsewhere = w.primary.replace(":us-east-1:", ":eu-west-1:");
    let e = error_as(s, B, "CreateSecret", create(json!({"CrossAccountPrimaryARN": elsewhere}))).await;
    assert_eq!(e.0, "InvalidParameterException");
    let e = error_as(s, A, "CreateSecret", create(json!({}))).await;
    assert_eq!(e.0, "InvalidParameterException", "not in the primary's own account");
    // A second replica for a primary that has one.
    ok_as(s, A, "AssociateCrossAccountReplica", json!({"SecretId": "app/db", "CrossAccountReplicaARN": w.replica}))
        .await;
    let second = ok_as(s, B, "CreateSecret", create(json!({"Name": "second"}))).await;
    let e = error_as(
        s,
        A,
        "AssociateCrossAccountReplica",
        json!({"SecretId": "app/db", "CrossAccountReplicaARN": second["ARN"]}),
    )
    .await;
    assert_eq!(e.0, "InvalidRequestException");
    // A secret that is no replica of this primary.
    let plain =
        ok_as(s, B, "CreateSecret", json!({"Name": "plain", "SecretString": "v", "ClientRequestToken": TOKEN_B})).await;
    let e = error_as(
        s,
        A,
        "AssociateCrossAccountReplica",
        json!({"SecretId": "app/db", "CrossAccountReplicaARN": plain["ARN"]}),
    )
    .await;
    assert_eq!(e.0, "InvalidRequestException");
    let e = error_as(
        s,
        A,
        "DisassociateCrossAccountReplica",
        json!({"SecretId": "app/db", "CrossAccountReplicaARN": plain["ARN"]}),
    )
    .await;
    assert_eq!(e.0, "InvalidRequestException");
}

#[tokio::test]
async fn associating_is_authorised_on_both_secrets_when_enforcing() {
    use serde_json::json;
    let config = smemu::config::Config { authorize: smemu::iam::AuthorizeMode::Enforce, ..Default::default() };
    let w = accounts(TestServer::start_with(config).await).await;
    let allow = |actions: &[&str]| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    let user = |name: &str, key: &str, actions: &[&str]| {
        json!({"UserName": name, "Account": A, "AccessKeys": [{"AccessKeyId": key, "SecretAccessKey": "s"}],
               "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": allow(actions)}]})
    };
    let iam = json!({"UserDetailList": [
        user("no-read", "AKIAANOREAD000000001", &["secretsmanager:AssociateCrossAccountReplica"]),
        user("no-accept", "AKIAANOACCEPT0000001", &["secretsmanager:AssociateCrossAccountReplica", "secretsmanager:GetSecretValue"]),
        user("full", "AKIAAFULL00000000001", &["secretsmanager:*"]),
    ]});
    w.server.app.auth.credentials().load_document("test", &json!({ "iam": iam })).unwrap();
    let body = json!({"SecretId": w.primary, "CrossAccountReplicaARN": w.replica});
    let e = error_as(&w.server, "AKIAANOREAD000000001", "AssociateCrossAccountReplica", body.clone()).await;
    assert_eq!(e.0, "AccessDeniedException");
    assert!(e.1.contains("secretsmanager:GetSecretValue"), "{}", e.1);
    let e = error_as(&w.server, "AKIAANOACCEPT0000001", "AssociateCrossAccountReplica", body.clone()).await;
    assert_eq!(e.0, "AccessDeniedException");
    assert!(e.1.contains("secretsmanager:AcceptCrossAccountReplication"), "{}", e.1);
    ok_as(&w.server, "AKIAAFULL00000000001", "AssociateCrossAccountReplica", body).await;
    assert_eq!(value_as(&w.server, B, "copy/db").await, "s1");
}

#[tokio::test]
async fn every_operation_of_the_model_answers_without_not_implemented() {
    let model: serde_json::Value = serde_json::from_str(include_str!("../model/secretsmanager.json")).unwrap();
    let operations = model["operations"].as_object().unwrap();
    assert_eq!(operations.len(), 26);
    let w = world().await;
    for op in operations.keys() {
        let r = w.server.call(op, r#"{"SecretId":"nope"}"#).await;
        assert_ne!(r.status, 501, "{op}");
        assert_ne!(r.json()["__type"], "NotImplementedException", "{op}");
    }
}
