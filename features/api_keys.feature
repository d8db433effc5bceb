Feature: API keys of service accounts
  A service account signs requests with API keys (DPaaS API reference, API keys): each an
  access_key, which is public, and a secret_key, shown once, in the answer that issues it. Keys
  are listed and revoked; they may expire and may be bound to addresses. The suite revokes every
  key it was issued when each scenario ends, and looks for every secret it was issued in every
  later answer of the run (KEY-2).

  @must @KEY-1 @KEY-3
  Scenario: A key is issued with its access key, its secret and its expiry, and works at once
    Given the admin user is logged in
    And they have created 1 service account
    When they issue a key for it with a description and an expires_at a day ahead
    Then the response status is a success
    And the answer holds an access_key, a secret_key and the expires_at sent
    And a request signed with the key it holds is authenticated

  @must @KEY-1
  Scenario: A key issued without an expiry never expires, or gets a lifetime of the target's choosing
    Given the admin user is logged in
    And they have created 1 service account
    When they issue a key for it with nothing but a description
    Then the response status is a success
    And the answer's expires_at is null or in the future

  @should @KEY-1
  Scenario: Issuing a key answers 201 with the key's id
    Given the admin user is logged in
    And they have created 1 service account
    When they issue a key for it with nothing but a description
    Then the response status is 201
    And the answer holds the key's id

  @must @KEY-2
  Scenario: A key's secret is shown when it is issued and never again
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they list its keys, read the service account and list the service accounts
    Then none of those answers shows the key's secret

  @must @KEY-3
  Scenario: Once a signed request succeeded, the key and its service account have been used
    Given the admin user is logged in
    And the reader service account has a new key
    And a request signed with that key lists the accounts
    When they list the reader service account's keys
    Then the key's last_used_at is a timestamp
    And the reader service account's last_used_at is a timestamp

  @should @KEY-4
  Scenario: The key list shows each key's fields and no secret
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued 2 keys for it
    When they list its keys
    Then the response status is 200
    And the key list holds the keys they were issued, newest first, each with its fields

  @must @KEY-5
  Scenario: A revoked key is refused at once, and the service account's other key still works
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued 2 keys for it
    When they revoke the first key
    Then the response status is a success
    And the very next request signed with the first key is refused with 401
    And a request signed with the second key is authenticated
    And the key list shows the first key inactive, or no longer

  @must @KEY-6
  Scenario: A key whose expires_at has passed on the target's clock is refused
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it that expires a minute from now on the target's clock
    And a request signed with that key is authenticated
    When the key's expires_at has passed on the target's clock
    And they send a request signed with that key
    Then the response status is 401

  @should @KEY-6
  Scenario: A key cannot be issued already expired
    Given the admin user is logged in
    And they have created 1 service account
    When they issue a key for it with an expires_at an hour ago
    Then the response is a "ValidationError" error with status 422

  @must @KEY-7
  Scenario: A key bound to 192.0.2.0/24 is refused from here
    Given the admin user is logged in
    And the reader service account has a new key allowed only from "192.0.2.0/24"
    When they send a request signed with that key
    Then the response is refused with 401 or 403

  @must @KEY-7
  Scenario: A key bound to every address is authenticated from here
    Given the admin user is logged in
    And the reader service account has a new key allowed only from "0.0.0.0/0, ::/0"
    When they send a request signed with that key
    Then the response status is 200

  @should @KEY-7
  Scenario: An allowlist entry that is no CIDR block is refused naming ip_allowlist
    Given the admin user is logged in
    And they have created 1 service account
    When they issue a key for it allowed only from "not-an-address"
    Then the response is a "ValidationError" error with status 422
    And the error details name "ip_allowlist"

  @must @KEY-8
  Scenario: No two keys share an access key or a secret, and no access key holds a colon
    Given the admin user is logged in
    And they have created 2 service accounts
    When they issue 2 keys for each of them
    Then every key has its own access key and its own secret, and no access key holds a colon

  @must @KEY-9
  Scenario: Keys of another organization's service account are neither issued, listed nor revoked
    Given the other user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And the admin user is logged in
    When they issue, list and revoke keys of the service account the other user created
    Then none of those answers is a success, and none shows the other organization's key
    And the other user's key still works and is still its service account's only key

  @should @KEY-9
  Scenario: Keys of another organization's service account are answered as those of an id that never existed
    Given the other user is logged in
    And they have created 1 service account
    And the admin user is logged in
    When they issue a key for the service account the other user created, and for an id of its shape that never existed
    Then both answers have the same status, error and header names

  @must @KEY-10
  Scenario: A user without the right may neither issue nor revoke keys
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And the limited user is logged in
    When they issue a key for the service account the admin user created, and revoke its key
    Then each answer is a "Forbidden" error with status 403
    And the admin user's key still works

  @must @ERR-7 @KEY-5
  Scenario: A key id that never existed gets a JSON error when revoked, never a server error
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they revoke a key id of its shape that never existed
    Then the response is a client error with a JSON error body

  @must @ERR-5 @KEY-1
  Scenario Outline: After a key with <value> is accepted or refused, every list still reads
    Given the admin user is logged in
    And they have created 1 service account
    When they issue a key for it with <value>
    Then the response is a success or a client error with a JSON error body, never a server error
    And the service account's keys and the service accounts still read as valid JSON for every principal of the organization

    Examples:
      | value                                    |
      | a description with a lone surrogate escape |
      | a description of 100000 characters       |
      | an expires_at in the year 10000          |
      | an allowlist of 10000 entries            |
