Feature: Nonces: a signed request works once
  Each signed request carries a nonce, which works once per key (DPaaS API reference, HMAC
  authentication): a request sent again, or signed again over a used nonce, is refused. The
  first request whose signature checks out uses its nonce up, whatever it is answered, so a
  refused request cannot be replayed once a right is granted. A used nonce is kept as long as
  its x-date would still be accepted.

  @must @HMAC-6
  Scenario: The same signed request sent twice is refused the second time
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send the same signed request twice
    Then the first is authenticated and the second is refused with 401

  @must @HMAC-6
  Scenario: A new signature over a used nonce is refused
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request, then another request signed with the same nonce
    Then the first is authenticated and the second is refused with 401

  @must @HMAC-6
  Scenario: A request answered 403 has used its nonce up
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request their service account has no right to, twice
    Then the first is refused with 403 and the second with 401

  @must @HMAC-8
  Scenario: A used nonce is still refused later within its x-date's window
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request, and send it again two minutes later on the target's clock
    Then the first is authenticated and the second is refused with 401

  @should @HMAC-8
  Scenario: A used nonce is still refused after the target restarts
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request, and send it again after the target restarts
    Then the first is authenticated and the second is refused with 401

  @should @HMAC-9
  Scenario: Of 8 copies of one signed request sent at once, exactly one is authenticated
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send 8 copies of one signed request at once
    Then exactly one of those copies is authenticated, and the others are refused with 401
