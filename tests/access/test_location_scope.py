"""/location/hosts/<id>/ is narrowed by the viewer's organization families like every other page."""


def test_staff_of_tenant_b_gets_404_on_tenant_a_host(client, users, family_a, family_b):
    staff_b = users["auditor_b"]
    staff_b.is_staff = True
    staff_b.save()
    client.force_login(staff_b)
    assert client.get(f"/location/hosts/{family_a.hosts[0].pk}/").status_code == 404
    own = client.get(f"/location/hosts/{family_b.hosts[0].pk}/")
    assert own.status_code == 200 and family_b.hosts[0].hostname in own.content.decode()


def test_a_user_without_a_role_sees_no_host(client, users, family_a):
    client.force_login(users["no_role"])
    assert client.get(f"/location/hosts/{family_a.hosts[0].pk}/").status_code == 404


def test_anonymous_is_sent_to_the_login(client, family_a):
    response = client.get(f"/location/hosts/{family_a.hosts[0].pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]
